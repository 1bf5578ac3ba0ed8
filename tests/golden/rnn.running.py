def d_rnn(params, xs):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    tape = []
    W = params["W"]
    h = np.zeros(W.shape[0])
    n_2 = xs.shape[0]
    U = params["U"]
    b = params["b"]
    for t in range(n_2):
        h_3 = np.dot(W, h, buffers[0][t])
        x_t = xs[t]
        h_4 = np.dot(U, x_t, buffers[1])
        h_5 = np.add(h_3, h_4, out=h_3)
        h_6 = np.add(h_5, b, out=h_5)
        tape.append(h)
        h = np.tanh(h_6, out=h_6)
    out_1 = h**2
    out = np.add.reduce(out_1, None)

    # line 51: return np.sum(h**2)
    dh = unreduce(1.0, out_1) * 2 * h
    # line 49: for t in range(xs.shape[0]):
    dU = np.zeros_like(U)
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    W_T = np.ascontiguousarray(W.T)
    for t in reversed(range(n_2)):
        x_t = xs[t]
        # line 50: h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
        dh_6 = dh * (1.0 - h * h)
        h = tape.pop()
        db += dh_6
        dU += np.outer(dh_6, x_t)
        dW += np.outer(dh_6, h)
        dh = np.dot(W_T, dh_6)
    spare.append(buffers)
    return (out, build_gradient(params, dW, dU, db))
