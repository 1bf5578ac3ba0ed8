def jvp_rnn(params, xs, *, dparams):
    # line 48: h = np.zeros(params["W"].shape[0])
    W = params["W"]
    dW = dparams["W"]
    h = np.zeros(W.shape[0])
    dh = zero_tangent(h)
    n_2 = xs.shape[0]
    # line 50: h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
    U = params["U"]
    dU = dparams["U"]
    b = params["b"]
    db = dparams["b"]
    for t in range(n_2):
        x_t = xs[t]
        dh_6 = dW @ h + W @ dh + dU @ x_t + db
        h = np.tanh(W @ h + U @ x_t + b)
        dh = dh_6 * (1.0 - h * h)
    # line 51: return np.sum(h**2)
    out = np.sum(h**2)
    return (out, np.sum(dh * 2 * h))
