def jvp_d_neural_net(params, x, y, *, tparams):
    # golden_cases.py:14: h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    W0 = params["W"][0]
    tW0 = tparams["W"][0]
    h1_1 = x @ W0
    th1_1 = x @ tW0
    b0 = params["b"][0]
    tb0 = tparams["b"][0]
    h1 = np.tanh(h1_1 + b0)
    th1 = (th1_1 + tb0) * (1.0 - h1 * h1)
    # golden_cases.py:15: h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    W1 = params["W"][1]
    tW1 = tparams["W"][1]
    h2_1 = h1 @ W1
    th2_1 = th1 @ W1 + h1 @ tW1
    b1 = params["b"][1]
    tb1 = tparams["b"][1]
    h2 = np.tanh(h2_1 + b1)
    th2 = (th2_1 + tb1) * (1.0 - h2 * h2)
    # golden_cases.py:16: y_hat = h2 - np.log(np.sum(np.exp(h2)))
    y_hat_1 = np.exp(h2)
    ty_hat_1 = th2 * y_hat_1
    y_hat_2 = np.sum(y_hat_1)
    ty_hat_2 = np.sum(ty_hat_1)
    y_hat = h2 - np.log(y_hat_2)
    # golden_cases.py:17: return -np.sum(y_hat * y)
    out_1 = y_hat * y
    dy_hat = sum_to(unreduce(-1.0, out_1) * y, y_hat)
    # golden_cases.py:16: y_hat = h2 - np.log(np.sum(np.exp(h2)))
    dh2_5 = np.sum(-dy_hat) / y_hat_2
    dh2 = dy_hat + dh2_5 * y_hat_1
    tdh2 = broadcast_like(-ty_hat_2 * dh2_5 / y_hat_2 * y_hat_1 + dh2_5 * ty_hat_1, dh2)
    # golden_cases.py:15: h2 = np.tanh(h1 @ params["W"][1] + params["b"][1])
    dh2_2_2 = 1.0 - h2 * h2
    dh2_2 = dh2 * dh2_2_2
    tdh2_2 = tdh2 * dh2_2_2 + dh2 * -(2.0 * (th2 * h2))
    dh2_1 = sum_to(dh2_2, h2_1)
    tdh2_1 = sum_to(tdh2_2, h2_1)
    tdb1 = sum_to(tdh2_2, b1)
    dh1_1 = W1.T
    dh1 = dh2_1 @ dh1_1
    tdh1 = tdh2_1 @ dh1_1 + dh2_1 @ tW1.T
    dW1_1 = h1.T
    tdW1 = th1.T @ dh2_1 + dW1_1 @ tdh2_1
    # golden_cases.py:14: h1 = np.tanh(x @ params["W"][0] + params["b"][0])
    dh1_2_2 = 1.0 - h1 * h1
    tdh1_2 = tdh1 * dh1_2_2 + dh1 * -(2.0 * (th1 * h1))
    tdb0 = sum_to(tdh1_2, b0)
    dW0_1 = x.T
    tdW0 = dW0_1 @ sum_to(tdh1_2, h1_1)
    return gradient_like(
        params, {("W", 0): tdW0, ("b", 0): tdb0, ("W", 1): tdW1, ("b", 1): tdb1}
    )
