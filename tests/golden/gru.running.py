def d_gru(params, xs, y):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    tape = []
    n = xs.shape[1]
    W_h_1 = params["W_h"]
    H = W_h_1.shape[0]
    W_x = params["W_x"]
    b = params["b"]
    h = np.zeros((n, H), dtype=xs.dtype)
    n_3 = xs.shape[0]
    zr_1 = 2 * H
    zr_4 = W_h_1[:, :zr_1]
    c_5 = W_h_1[:, zr_1:]
    for t in range(n_3):
        x_t = xs[t]
        a_1 = np.dot(x_t, W_x, buffers[2])
        a = np.add(a_1, b, out=a_1)
        zr_2 = a[:, :zr_1]
        zr_5 = np.dot(h, zr_4, buffers[3][t])
        zr_7 = np.negative(np.add(zr_2, zr_5, out=zr_5), out=zr_5)
        zr_8 = np.exp(zr_7, out=zr_7)
        zr_9 = np.add(1.0, zr_8, buffers[4][t])
        zr = np.divide(1.0, zr_9, out=zr_9)
        z = zr[:, :H]
        r = zr[:, H:]
        c_2 = a[:, zr_1:]
        c_3 = np.multiply(r, h, buffers[5][t])
        c_6 = np.dot(c_3, c_5, buffers[6][t])
        c_7 = np.add(c_2, c_6, out=c_6)
        c = np.tanh(c_7, out=c_7)
        h_2 = np.subtract(1.0, z, buffers[7][t])
        h_3 = np.multiply(h_2, h, buffers[8][t])
        h_4 = np.multiply(z, c, buffers[9])
        tape.append(h)
        h = np.add(h_3, h_4, out=h_3)
        tape.append(zr_8)
        tape.append(zr)
        tape.append(z)
        tape.append(r)
        tape.append(c_3)
        tape.append(c)
        tape.append(h_2)
    out_1 = np.multiply(y, h, buffers[0])
    out_3 = np.multiply(h, h, buffers[1])
    out = np.add.reduce(out_1, None) + 0.1 * np.add.reduce(out_3, None)

    # line 46: return np.sum(y * h) + 0.1 * np.sum(h * h)
    dh = 0.1 * h
    dh = np.add(np.multiply(2.0, dh, out=dh), y * 1.0, out=dh)
    # line 39: for t in range(xs.shape[0]):
    dW_h_1 = np.zeros_like(W_h_1)
    dW_x = np.zeros_like(W_x)
    db = np.zeros_like(b)
    c_5_T = np.ascontiguousarray(c_5.T)
    zr_4_T = np.ascontiguousarray(zr_4.T)
    dc_6_steps = buffers[12]
    c_3_steps = buffers[5]
    dzr_5_steps = buffers[13]
    h_steps = buffers[14]
    da_steps = buffers[15]
    for t in reversed(range(n_3)):
        h_2 = tape.pop()
        c = tape.pop()
        c_3 = tape.pop()
        r = tape.pop()
        z = tape.pop()
        zr = tape.pop()
        zr_8 = tape.pop()
        # line 45: h = (1.0 - z) * h + z * c
        dh_3 = dh
        h = tape.pop()
        dz = np.multiply(dh, c, buffers[10])
        dc = np.multiply(z, dh, out=dc_6_steps[t])
        dh = h_2 * dh
        dz = np.subtract(dz, dh_3 * h, out=dz)
        # line 44: c = np.tanh(a[:, 2 * H :] + (r * h) @ W_h[:, 2 * H :])
        dc_7 = np.multiply(dc, 1.0 - c * c, out=dc)
        dc_3 = np.dot(dc_7, c_5_T)
        dr = np.multiply(dc_3, h, buffers[11])
        dh += np.multiply(r, dc_3, out=dc_3)
        da = da_steps[t]
        da[:, zr_1:] = dc_7
        # line 43: r = zr[:, H:]
        dzr = dzr_5_steps[t]
        dzr[:, H:] = dr
        # line 42: z = zr[:, :H]
        dzr[:, :H] = dz
        # line 41: zr = 1.0 / (1.0 + np.exp(-(a[:, : 2 * H] + h @ W_h[:, : 2 * H])))
        dzr_9 = np.multiply(np.multiply(dzr, zr, out=dzr), zr, out=dzr)
        dzr_7 = np.multiply(dzr_9, zr_8, out=dzr_9)
        dh += np.dot(dzr_7, zr_4_T)
        h_steps[t] = h
        da[:, :zr_1] = dzr_7
    dW_h_1[:, zr_1:] += np.dot(
        c_3_steps.reshape(-1, c_3_steps.shape[-1]).T,
        dc_6_steps.reshape(-1, dc_6_steps.shape[-1]),
    )
    dW_h_1[:, :zr_1] += np.dot(
        h_steps.reshape(-1, h_steps.shape[-1]).T,
        dzr_5_steps.reshape(-1, dzr_5_steps.shape[-1]),
    )
    db += sum_leading(da_steps, 2)
    dW_x += np.dot(
        xs.reshape(-1, xs.shape[-1]).T, da_steps.reshape(-1, da_steps.shape[-1])
    )
    spare.append(buffers)
    return (out, build_gradient(params, dW_h_1, dW_x, db))
