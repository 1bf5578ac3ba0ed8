def d_rnn(params, xs):
    tape = []
    W = params["W"]
    h = np.zeros(W.shape[0])
    n_2 = xs.shape[0]
    U = params["U"]
    b = params["b"]
    h_3 = None
    h_4 = None
    h_5 = None
    for t in range(n_2):
        tape.append(shape_of(h_3))
        h_3 = W @ h
        x_t = xs[t]
        tape.append(shape_of(h_4))
        h_4 = U @ x_t
        tape.append(shape_of(h_5))
        h_5 = h_3 + h_4
        h_6 = h_5 + b
        tape.append(h)
        h = np.tanh(h_6)
    out_1 = h**2
    out = np.sum(out_1)

    # line 51: return np.sum(h**2)
    dh = unreduce(1.0, out_1) * 2 * h
    # line 49: for t in range(xs.shape[0]):
    dU = zero_adjoint(U)
    dW = zero_adjoint(W)
    db = zero_adjoint(b)
    for t in reversed(range(n_2)):
        x_t = xs[t]
        # line 50: h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
        dh_6 = dh * (1.0 - h * h)
        h = tape.pop()
        dh_5 = sum_to(dh_6, h_5)
        db = db + sum_to(dh_6, b)
        dh_3 = sum_to(dh_5, h_3)
        h_5 = tape.pop()
        dU = dU + unmatmul_left(sum_to(dh_5, h_4), U, x_t)
        h_4 = tape.pop()
        dW = dW + unmatmul_left(dh_3, W, h)
        dh = unmatmul_right(dh_3, W, h)
        h_3 = tape.pop()
    return (out, gradient_like(params, {("W",): dW, ("U",): dU, ("b",): db}))
