def d_transformer_loss(params, x, y):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    shape_1 = x.shape
    B = shape_1[0]
    T = shape_1[1]
    C = shape_1[2]
    nh = 4
    hd = C // nh
    mu = np.mean(x, axis=-1, keepdims=True)
    xc = np.subtract(x, mu, buffers[0])
    var = np.mean(xc * xc, axis=-1, keepdims=True)
    h_3 = np.divide(xc, np.sqrt(np.add(var, 1e-05, out=var), out=var), out=xc)
    ln1_g = params["ln1_g"]
    h_4 = h_3 * ln1_g
    ln1_b = params["ln1_b"]
    h = np.add(h_4, ln1_b, out=h_4)
    W_qkv = params["W_qkv"]
    qkv_1 = h @ W_qkv
    b_qkv = params["b_qkv"]
    qkv = np.add(qkv_1, b_qkv, out=qkv_1)
    q_1 = qkv[:, :, :C]
    q = q_1.reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    k_1 = 2 * C
    k_2 = qkv[:, :, C:k_1]
    k = k_2.reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    v_2 = qkv[:, :, k_1:]
    v = v_2.reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    s_1 = np.swapaxes(k, -1, -2)
    s_3 = hd**0.5
    s = q @ s_1 / s_3
    mask_1 = np.ones((T, T), dtype=bool)
    mask = np.tril(mask_1)
    s_4 = np.where(mask, s, -1000000000.0)
    s_5 = np.max(s_4, axis=-1, keepdims=True)
    s_6 = s_4 - s_5
    e = np.exp(s_6, out=s_6)
    a_1 = np.sum(e, axis=-1, keepdims=True)
    a = e / a_1
    o_2 = (a @ v).transpose(0, 2, 1, 3)
    o = o_2.reshape(B, T, C)
    W_o = params["W_o"]
    x1_1 = o @ W_o
    x1_2 = np.add(x, x1_1, out=x1_1)
    b_o = params["b_o"]
    x1 = np.add(x1_2, b_o, out=x1_2)
    mu2 = np.mean(x1, axis=-1, keepdims=True)
    xc2 = x1 - mu2
    var2_1 = xc2 * xc2
    var2 = np.mean(var2_1, axis=-1, keepdims=True)
    h2_2 = np.sqrt(var2 + 1e-05)
    h2_3 = xc2 / h2_2
    ln2_g = params["ln2_g"]
    h2_4 = h2_3 * ln2_g
    ln2_b = params["ln2_b"]
    h2 = np.add(h2_4, ln2_b, out=h2_4)
    W_1 = params["W_1"]
    u_1 = h2 @ W_1
    b_1 = params["b_1"]
    u = np.add(u_1, b_1, out=u_1)
    g_1 = 0.5 * u
    g_6 = np.tanh(0.7978845608028654 * (u + 0.044715 * u**3))
    g_7 = 1.0 + g_6
    g = g_1 * g_7
    W_2 = params["W_2"]
    out_1 = g @ W_2
    out_2 = np.add(x1, out_1, out=out_1)
    b_2 = params["b_2"]
    out = np.add(out_2, b_2, out=out_2)
    out_3 = np.subtract(out, y, out=out)
    out_7 = 0.5 * np.add.reduce(out_3**2, None) / B

    # line 64: return 0.5 * np.sum((out - y) ** 2) / B
    dout = np.multiply(0.5 / B * 2, out_3, out=out_3)
    # line 63: out = x1 + g @ params["W_2"] + params["b_2"]
    db_2 = sum_leading(dout, 2)
    dx1 = dout
    dg = np.reshape(np.reshape(dout, (-1, np.shape(W_2)[1])) @ W_2.T, np.shape(g))
    dW_2 = np.reshape(g, (-1, np.shape(W_2)[0])).T @ np.reshape(
        dout, (-1, np.shape(W_2)[1])
    )
    # line 62: g = 0.5 * u * (1.0 + np.tanh(0.7978845608028654 * (u + 0.044715 * u**3)))
    dg_4 = np.multiply(
        0.7978845608028654,
        np.multiply(
            np.multiply(g_1, dg, out=g_1),
            np.subtract(1.0, np.multiply(g_6, g_6, out=g_6), out=g_6),
            out=g_1,
        ),
        out=g_1,
    )
    du = np.add(
        np.add(
            dg_4,
            np.multiply(
                0.134145, np.multiply(dg_4, np.power(u, 2, out=u), out=u), out=u
            ),
            out=dg_4,
        ),
        np.multiply(0.5, np.multiply(dg, g_7, out=dg), out=dg),
        out=dg_4,
    )
    # line 61: u = h2 @ params["W_1"] + params["b_1"]
    db_1 = sum_leading(du, 2)
    dh2 = np.reshape(np.reshape(du, (-1, np.shape(W_1)[1])) @ W_1.T, np.shape(h2))
    dW_1 = np.reshape(h2, (-1, np.shape(W_1)[0])).T @ np.reshape(
        du, (-1, np.shape(W_1)[1])
    )
    # line 60: h2 = xc2 / np.sqrt(var2 + 1e-5) * params["ln2_g"] + params["ln2_b"]
    dln2_b = sum_leading(dh2, 2)
    dh2_3 = dh2 * ln2_g
    dln2_g = sum_leading(h2_3 * dh2, 2)
    dxc2 = dh2_3 / h2_2
    dvar2 = (-dh2_3 * h2_3 / h2_2).sum(axis=(2,), keepdims=True) / (2.0 * h2_2)
    # line 59: var2 = np.mean(xc2 * xc2, axis=-1, keepdims=True)
    dxc2 += 2.0 * (dvar2 * (np.size(var2) / np.size(var2_1)) * xc2)
    # line 58: xc2 = x1 - mu2
    dx1 = dx1 + dxc2
    dmu2 = (-dxc2).sum(axis=(2,), keepdims=True)
    # line 57: mu2 = np.mean(x1, axis=-1, keepdims=True)
    dx1 += unreduce(dmu2 * (np.size(mu2) / np.size(x1)), x1, -1, True)
    db_o = sum_leading(dx1, 2)
    # line 56: x1 = x + o @ params["W_o"] + params["b_o"]
    do = np.reshape(np.reshape(dx1, (-1, np.shape(W_o)[1])) @ W_o.T, np.shape(o))
    dW_o = np.reshape(o, (-1, np.shape(W_o)[0])).T @ np.reshape(
        dx1, (-1, np.shape(W_o)[1])
    )
    # line 55: o = (a @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
    do_1 = np.transpose(np.reshape(do, np.shape(o_2)), np.argsort((0, 2, 1, 3)))
    da = do_1 @ np.swapaxes(v, -1, -2)
    dv = np.swapaxes(a, -1, -2) @ do_1
    # line 54: a = e / np.sum(e, axis=-1, keepdims=True)
    de = da / a_1 + unreduce((-da * a / a_1).sum(axis=(3,), keepdims=True), e, -1, True)
    # line 53: e = np.exp(s)
    ds_6 = np.multiply(de, e, out=de)
    # line 52: s = s - np.max(s, axis=-1, keepdims=True)
    hit_1 = s_4 == s_5
    ds_4 = np.add(
        ds_6,
        (-ds_6).sum(axis=(3,), keepdims=True)
        * hit_1
        / np.sum(hit_1, -1, keepdims=True, dtype=s_5.dtype),
        out=ds_6,
    )
    # line 51: s = np.where(mask, s, -1e9)
    ds = np.where(mask, ds_4, 0.0)
    # line 49: s = q @ np.swapaxes(k, -1, -2) / hd**0.5
    ds_2 = np.divide(ds, s_3, out=ds)
    dq = ds_2 @ np.swapaxes(s_1, -1, -2)
    dk = np.swapaxes(np.swapaxes(q, -1, -2) @ ds_2, -1, -2)
    # line 48: v = qkv[:, :, 2 * C :].reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    dqkv = unindex_shaped(
        np.reshape(np.transpose(dv, np.argsort((0, 2, 1, 3))), np.shape(v_2)),
        (2, 5, 24),
        np.float64,
        np.s_[:, :, k_1:],
    )
    # line 47: k = qkv[:, :, C : 2 * C].reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    dqkv[:, :, C:k_1] += np.reshape(
        np.transpose(dk, np.argsort((0, 2, 1, 3))), np.shape(k_2)
    )
    # line 46: q = qkv[:, :, :C].reshape(B, T, nh, hd).transpose(0, 2, 1, 3)
    dqkv[:, :, :C] += np.reshape(
        np.transpose(dq, np.argsort((0, 2, 1, 3))), np.shape(q_1)
    )
    # line 45: qkv = h @ params["W_qkv"] + params["b_qkv"]
    db_qkv = sum_leading(dqkv, 2)
    dh = np.reshape(np.reshape(dqkv, (-1, np.shape(W_qkv)[1])) @ W_qkv.T, np.shape(h))
    dW_qkv = np.reshape(h, (-1, np.shape(W_qkv)[0])).T @ np.reshape(
        dqkv, (-1, np.shape(W_qkv)[1])
    )
    dln1_b = sum_leading(dh, 2)
    # line 44: h = xc / np.sqrt(var + 1e-5) * params["ln1_g"] + params["ln1_b"]
    dln1_g = sum_leading(h_3 * dh, 2)
    spare.append(buffers)
    return (
        out_7,
        build_gradient(
            params,
            dln1_g,
            dln1_b,
            dW_qkv,
            db_qkv,
            dW_o,
            db_o,
            dln2_g,
            dln2_b,
            dW_1,
            db_1,
            dW_2,
            db_2,
        ),
    )
