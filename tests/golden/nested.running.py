def d_nested(params, x):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    enc_w = params["enc"].w
    h_1 = np.dot(x, enc_w, buffers[0])
    enc_b = params["enc"].b
    h = np.tanh(np.add(h_1, enc_b, out=h_1), out=h_1)
    dec0 = params["dec"][0]
    out_1 = np.dot(h, dec0, buffers[1])
    scale = params["scale"]
    out = np.multiply(out_1, scale, buffers[2])
    out_3 = np.add.reduce(out**2, None)

    # line 44: return np.sum(out**2)
    dout = np.multiply(2.0, out, out=out)
    # line 43: out = h @ params["dec"][0] * params["scale"]
    dout_1 = np.multiply(dout, scale, buffers[3])
    dscale = np.vdot(out_1, dout)
    dh = np.dot(dout_1, dec0.T, buffers[4])
    ddec0 = np.dot(h.T, dout_1)
    # line 42: h = np.tanh(x @ enc.w + enc.b)
    dh_2 = np.multiply(dh, np.subtract(1.0, np.multiply(h, h, out=h), out=h), out=dh)
    denc_b = sum_leading(dh_2, 1)
    denc_w = np.dot(x.T, dh_2)
    spare.append(buffers)
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
