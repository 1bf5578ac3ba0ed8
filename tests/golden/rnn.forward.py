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
        h_4 = xs[t]
        dh_7 = dW @ h + W @ dh + dU @ h_4 + db
        h = np.tanh(W @ h + U @ h_4 + b)
        dh = dh_7 * (1.0 - h * h)
    # line 51: return np.sum(h**2)
    out = np.sum(h**2)
    return (out, np.sum(dh * 2 * h))
