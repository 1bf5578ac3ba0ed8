def jvp_neural_net(params, x, y, *, dparams):
    # line 14: h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    W0 = params["W"][0]
    dW0 = dparams["W"][0]
    b0 = params["b"][0]
    db0 = dparams["b"][0]
    h1 = np.tanh(x @ W0 + b0)
    dh1 = (x @ dW0 + db0) * (1.0 - h1 * h1)
    # line 15: h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    W1 = params["W"][1]
    dW1 = dparams["W"][1]
    b1 = params["b"][1]
    db1 = dparams["b"][1]
    h2 = np.tanh(h1 @ W1 + b1)
    dh2 = (dh1 @ W1 + h1 @ dW1 + db1) * (1.0 - h2 * h2)
    # line 16: y_hat = h2 - np.log(np.sum(np.exp(h2)))
    y_hat_1 = np.exp(h2)
    y_hat_2 = np.sum(y_hat_1)
    y_hat = h2 - np.log(y_hat_2)
    dy_hat = dh2 + broadcast_like(-(np.sum(dh2 * y_hat_1) / y_hat_2), y_hat)
    # line 17: return -np.sum(y_hat * y)
    out = -np.sum(y_hat * y)
    return (out, -np.sum(dy_hat * y))
