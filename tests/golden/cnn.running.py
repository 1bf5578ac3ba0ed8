def d_cnn_loss(params, x, y):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    K = params["K"]
    c = params["c"]
    W = params["W"]
    b = params["b"]
    n = x.shape[0]
    ho = x.shape[2] - 2
    wo = x.shape[3] - 2
    h_3_1 = x[:, :, 0:ho, 0:wo]
    h_2_1 = 1 + wo
    h_3_2 = x[:, :, 0:ho, 1:h_2_1]
    h_2_2 = 2 + wo
    h_3_3 = x[:, :, 0:ho, 2:h_2_2]
    h_1_1 = 1 + ho
    h_3_4 = x[:, :, 1:h_1_1, 0:wo]
    h_3_5 = x[:, :, 1:h_1_1, 1:h_2_1]
    h_3_6 = x[:, :, 1:h_1_1, 2:h_2_2]
    h_1_4 = 2 + ho
    h_3_7 = x[:, :, 2:h_1_4, 0:wo]
    h_3_8 = x[:, :, 2:h_1_4, 1:h_2_1]
    h_3_9 = x[:, :, 2:h_1_4, 2:h_2_2]
    h_3_t_1 = h_3_1.transpose((0, 2, 3, 1))
    h_3_t_2 = h_3_2.transpose((0, 2, 3, 1))
    h_3_t_3 = h_3_3.transpose((0, 2, 3, 1))
    h_3_t_4 = h_3_4.transpose((0, 2, 3, 1))
    h_3_t_5 = h_3_5.transpose((0, 2, 3, 1))
    h_3_t_6 = h_3_6.transpose((0, 2, 3, 1))
    h_3_t_7 = h_3_7.transpose((0, 2, 3, 1))
    h_3_t_8 = h_3_8.transpose((0, 2, 3, 1))
    h_3_t_9 = h_3_9.transpose((0, 2, 3, 1))
    h_3_all = np.stack(
        (
            h_3_t_1,
            h_3_t_2,
            h_3_t_3,
            h_3_t_4,
            h_3_t_5,
            h_3_t_6,
            h_3_t_7,
            h_3_t_8,
            h_3_t_9,
        ),
        axis=3,
    )
    h_4_all = K.reshape((9, 1, 8))
    h_term_1 = einsum_product("nchw,co->nhwo", h_3_1, K[0, 0], negative_zeros=True)
    h_part_1 = np.add(0.0, h_term_1, out=h_term_1)
    h_term_2 = einsum_product("nchw,co->nhwo", h_3_2, K[0, 1], negative_zeros=True)
    h_part_2 = np.add(h_part_1, h_term_2, out=h_term_2)
    h_term_3 = einsum_product("nchw,co->nhwo", h_3_3, K[0, 2], negative_zeros=True)
    h_part_3 = np.add(h_part_2, h_term_3, out=h_term_3)
    h_term_4 = einsum_product("nchw,co->nhwo", h_3_4, K[1, 0], negative_zeros=True)
    h_part_4 = np.add(h_part_3, h_term_4, out=h_term_4)
    h_term_5 = einsum_product("nchw,co->nhwo", h_3_5, K[1, 1], negative_zeros=True)
    h_part_5 = np.add(h_part_4, h_term_5, out=h_term_5)
    h_term_6 = einsum_product("nchw,co->nhwo", h_3_6, K[1, 2], negative_zeros=True)
    h_part_6 = np.add(h_part_5, h_term_6, out=h_term_6)
    h_term_7 = einsum_product("nchw,co->nhwo", h_3_7, K[2, 0], negative_zeros=True)
    h_part_7 = np.add(h_part_6, h_term_7, out=h_term_7)
    h_term_8 = einsum_product("nchw,co->nhwo", h_3_8, K[2, 1], negative_zeros=True)
    h_part_8 = np.add(h_part_7, h_term_8, out=h_term_8)
    h_term_9 = einsum_product("nchw,co->nhwo", h_3_9, K[2, 2], negative_zeros=True)
    h = np.add(h_part_8, h_term_9, out=h_term_9)
    h_7 = np.add(h, c, out=h)
    h_7_mask = h_7 > 0.0
    h_7_mask_1 = h_7 == 0.0
    h = np.maximum(h_7, 0.0, out=h_7)
    z_1 = h.reshape(n, -1)
    z_2 = np.dot(z_1, W, buffers[0])
    z = np.add(z_2, b, out=z_2)
    z_3 = np.max(z, axis=1, keepdims=True)
    z_4 = np.subtract(z, z_3, buffers[1])
    lse_1 = np.exp(z_4)
    lse_2 = np.sum(lse_1, axis=1, keepdims=True)
    lse = np.log(lse_2, buffers[2])
    out_1 = np.subtract(z_4, lse, out=z_4)
    out_2 = np.multiply(y, out_1, out=out_1)
    out = -np.add.reduce(out_2, None) / n

    # line 128: return -np.sum(y * (z - lse)) / n
    dz_4 = y * -(1.0 / n)
    dlse = (-dz_4).sum(axis=(1,), keepdims=True)
    # line 127: lse = np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    dz_4 = np.add(
        dz_4, np.multiply(np.divide(dlse, lse_2, out=dlse), lse_1, out=lse_1), out=lse_1
    )
    # line 126: z = z - np.max(z, axis=1, keepdims=True)
    hit_1 = z == z_3
    dz = np.add(
        dz_4,
        (-dz_4).sum(axis=(1,), keepdims=True)
        * hit_1
        / np.sum(hit_1, 1, keepdims=True, dtype=z_3.dtype),
        out=dz_4,
    )
    # line 125: z = h.reshape(n, -1) @ W + b
    db = sum_leading(dz, 1)
    dW = np.dot(z_1.T, dz)
    dh = np.reshape(np.dot(dz, W.T), np.shape(h))
    # line 124: h = np.maximum(h + c, 0.0)
    dh_7 = np.add(
        dh * h_7_mask,
        np.multiply(np.multiply(0.5, dh, out=dh), h_7_mask_1, out=dh),
        out=dh,
    )
    del h_7_mask, h_7_mask_1
    dh = dh_7
    dc = sum_leading(dh_7, 3)
    # line 121: for i in range(3):
    dh_3_all_1, dh_4_all = uneinsum(
        dh, "nhwac,aco->nhwo", (h_3_all, h_4_all), (False, True)
    )
    del h_3_all, dh, dh_7
    dK = np.reshape(dh_4_all, np.shape(K))
    spare.append(buffers)
    return (out, build_gradient(params, dK, dc, dW, db))
