def d_softmax_cross_entropy(z, y):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    e_1 = np.max(z, axis=1, keepdims=True)
    e = np.exp(z - e_1)
    p_1 = np.sum(e, axis=1, keepdims=True)
    p = np.divide(e, p_1, buffers[0])
    out_1 = np.log(p, buffers[1])
    out_2 = np.multiply(y, out_1, out=out_1)
    out_3 = np.sum(out_2, axis=1)
    out = -np.mean(out_3)

    # line 23: return -np.mean(np.sum(y * np.log(p), axis=1))
    dp = y * (-1.0 / np.size(out_3)) / p
    # line 22: p = e / np.sum(e, axis=1, keepdims=True)
    de = dp / p_1 + unreduce((-dp * p / p_1).sum(axis=(1,), keepdims=True), e, 1, True)
    # line 21: e = np.exp(z - np.max(z, axis=1, keepdims=True))
    de_2 = np.multiply(de, e, out=de)
    hit_1 = z == e_1
    dz = np.add(
        de_2,
        (-de_2).sum(axis=(1,), keepdims=True)
        * hit_1
        / np.sum(hit_1, 1, keepdims=True, dtype=e_1.dtype),
        out=de_2,
    )
    spare.append(buffers)
    return (out, build_gradient(z, dz))
