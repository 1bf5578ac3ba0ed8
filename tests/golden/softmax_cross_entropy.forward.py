def jvp_softmax_cross_entropy(z, y, *, dz):
    # line 21: e = np.exp(z - np.max(z, axis=1, keepdims=True))
    e_1 = np.max(z, axis=1, keepdims=True)
    hit_1 = z == expand_to(e_1, z, 1, True)
    e = np.exp(z - e_1)
    de = (
        dz
        - np.sum(dz * hit_1, 1, keepdims=True)
        / np.sum(hit_1, 1, keepdims=True, dtype=e_1.dtype)
    ) * e
    # line 22: p = e / np.sum(e, axis=1, keepdims=True)
    p_1 = np.sum(e, axis=1, keepdims=True)
    p = e / p_1
    dp = (de - np.sum(de, 1, dtype=None, keepdims=True) * p) / p_1
    # line 23: return -np.mean(np.sum(y * np.log(p), axis=1))
    out = -np.mean(np.sum(y * np.log(p), axis=1))
    return (out, -np.mean(np.sum(y * (dp / p), 1)))
