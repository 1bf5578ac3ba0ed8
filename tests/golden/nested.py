def d_nested(params, x):
    enc_w = params["enc"].w
    h_1 = x @ enc_w
    enc_b = params["enc"].b
    h = np.tanh(h_1 + enc_b)
    dec0 = params["dec"][0]
    out_1 = h @ dec0
    scale = params["scale"]
    out = out_1 * scale
    out_3 = np.sum(out**2)

    # line 44: return np.sum(out**2)
    dout = 2.0 * out
    # line 43: out = h @ params["dec"][0] * params["scale"]
    dout_1 = dout * scale
    dscale = np.sum(out_1 * dout)
    dh = dout_1 @ dec0.T
    ddec0 = h.T @ dout_1
    # line 42: h = np.tanh(x @ enc.w + enc.b)
    dh_2 = dh * (1.0 - h * h)
    denc_b = sum_to(dh_2, enc_b)
    denc_w = x.T @ sum_to(dh_2, h_1)
    return (
        out_3,
        gradient_like(
            params,
            {
                ("enc", "w"): denc_w,
                ("enc", "b"): denc_b,
                ("dec", 0): ddec0,
                ("scale",): dscale,
            },
        ),
    )
