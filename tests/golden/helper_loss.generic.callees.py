def d_helper_loss(params, x):
    h = encode(params, x)
    out = np.sum(h**2) * SCALE

    # line 18: return np.sum(h**2) * SCALE
    dh = np.sum(1.0 * SCALE) * 2 * h
    # line 17: h = encode(params, x)
    dparams = as_adjoint(vjp_encode(params, x, g_out=dh))
    return (out, gradient_like(params, dparams))


# vjp_encode: the vjp of encode, export_cases.py:12
def vjp_encode(params, x, *, g_out):
    W = params["W"]
    out_1 = x @ W
    b = params["b"]
    out = np.tanh(out_1 + b)

    # line 13: return np.tanh(x @ params["W"] + params["b"])
    dout_2 = seed_like(g_out, out) * (1.0 - out * out)
    db = sum_to(dout_2, b)
    dW = unmatmul_right(sum_to(dout_2, out_1), x, W)
    return (out, gradient_like(params, {("W",): dW, ("b",): db}))
