def d_neural_net(params, x, y):
    W0 = params["W"][0]
    h1_1 = x @ W0
    b0 = params["b"][0]
    h1 = np.tanh(h1_1 + b0)
    W1 = params["W"][1]
    h2_1 = h1 @ W1
    b1 = params["b"][1]
    h2 = np.tanh(h2_1 + b1)
    y_hat_1 = np.exp(h2)
    y_hat_2 = np.sum(y_hat_1)
    y_hat = h2 - np.log(y_hat_2)
    out_1 = y_hat * y
    out = -np.sum(out_1)

    # line 17: return -np.sum(y_hat * y)
    dy_hat = sum_to(unreduce(-1.0, out_1) * y, y_hat)
    # line 16: y_hat = h2 - np.log(np.sum(np.exp(h2)))
    dh2 = dy_hat + np.sum(-dy_hat) / y_hat_2 * y_hat_1
    # line 15: h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    dh2_2 = dh2 * (1.0 - h2 * h2)
    dh2_1 = sum_to(dh2_2, h2_1)
    db1 = sum_to(dh2_2, b1)
    dh1 = dh2_1 @ W1.T
    dW1 = h1.T @ dh2_1
    # line 14: h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    dh1_2 = dh1 * (1.0 - h1 * h1)
    db0 = sum_to(dh1_2, b0)
    dW0 = x.T @ sum_to(dh1_2, h1_1)
    return (
        out,
        gradient_like(
            params, {("W", 0): dW0, ("b", 0): db0, ("W", 1): dW1, ("b", 1): db1}
        ),
    )
