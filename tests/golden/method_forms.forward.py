def jvp_method_forms(x, w, *, dx):
    # line 27: h = x.dot(w).T
    h = x.dot(w).T
    dh = np.dot(dx, w).T
    # line 28: s = h.sum(axis=1)
    s = h.sum(axis=1)
    ds = np.sum(dh, 1)
    # line 29: return (s.reshape(-1, 1) ** 2).mean() + x.T.max()
    out_1 = s.reshape(-1, 1)
    out_4 = x.T
    out_5 = out_4.max()
    hit_1 = out_4 == out_5
    out = (out_1**2).mean() + out_5
    return (
        out,
        np.mean(np.reshape(ds, np.shape(out_1)) * 2 * out_1)
        + np.sum(dx.T * hit_1) / np.sum(hit_1, dtype=out_5.dtype),
    )
