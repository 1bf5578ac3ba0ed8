def d_method_forms(x, w):
    h = x.dot(w).T
    s = h.sum(axis=1)
    out_1 = s.reshape(-1, 1)
    out_2 = out_1**2
    out_4 = x.T
    out_5 = out_4.max()
    out = out_2.mean() + out_5

    # line 29: return (s.reshape(-1, 1) ** 2).mean() + x.T.max()
    hit_1 = out_4 == out_5
    dx = (1.0 * hit_1 / np.sum(hit_1, dtype=out_5.dtype)).T
    ds = np.reshape(2 / np.size(out_2) * out_1, np.shape(s))
    # line 28: s = h.sum(axis=1)
    dh = unreduce(ds, h, 1, False)
    # line 27: h = x.dot(w).T
    dx = dx + np.dot(dh.T, w.T)
    return (out, build_gradient(x, dx))
