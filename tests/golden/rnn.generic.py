def d_rnn(params, xs):
    tape = []
    W = params["W"]
    h = np.zeros(W.shape[0])
    n_2 = xs.shape[0]
    U = params["U"]
    b = params["b"]
    h_3 = None
    h_5 = None
    h_6 = None
    for t in range(n_2):
        tape.append(shape_of(h_3))
        h_3 = W @ h
        h_4 = xs[t]
        tape.append(shape_of(h_5))
        h_5 = U @ h_4
        tape.append(shape_of(h_6))
        h_6 = h_3 + h_5
        h_7 = h_6 + b
        tape.append(h)
        h = np.tanh(h_7)
    out_1 = h**2
    out = np.sum(out_1)

    # line 51: return np.sum(h**2)
    dh = unreduce(1.0, out_1) * 2 * h
    # line 49: for t in range(xs.shape[0]):
    dU = zero_adjoint(U)
    dW = zero_adjoint(W)
    db = zero_adjoint(b)
    for t in reversed(range(n_2)):
        h_4 = xs[t]
        # line 50: h = np.tanh(params["W"] @ h + params["U"] @ xs[t] + params["b"])
        dh_7 = dh * (1.0 - h * h)
        h = tape.pop()
        dh_6 = sum_to(dh_7, h_6)
        db = db + sum_to(dh_7, b)
        dh_3 = sum_to(dh_6, h_3)
        h_6 = tape.pop()
        dU = dU + unmatmul_left(sum_to(dh_6, h_5), U, h_4)
        h_5 = tape.pop()
        dW = dW + unmatmul_left(dh_3, W, h)
        dh = unmatmul_right(dh_3, W, h)
        h_3 = tape.pop()
    return (out, gradient_like(params, {("W",): dW, ("U",): dU, ("b",): db}))
