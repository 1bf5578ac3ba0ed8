def jvp_nested(params, x, *, dparams):
    # line 42: h = np.tanh(x @ enc.w + enc.b)
    enc_w = params["enc"].w
    denc_w = dparams["enc"].w
    enc_b = params["enc"].b
    denc_b = dparams["enc"].b
    h = np.tanh(x @ enc_w + enc_b)
    dh = (x @ denc_w + denc_b) * (1.0 - h * h)
    # line 43: out = h @ params["dec"][0] * params["scale"]
    dec0 = params["dec"][0]
    ddec0 = dparams["dec"][0]
    out_1 = h @ dec0
    scale = params["scale"]
    dscale = dparams["scale"]
    out = out_1 * scale
    dout = (dh @ dec0 + h @ ddec0) * scale + out_1 * dscale
    # line 44: return np.sum(out**2)
    out_3 = np.sum(out**2)
    return (out_3, np.sum(dout * 2 * out))
