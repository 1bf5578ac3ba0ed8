def jvp_indexing(x, idx, *, dx):
    # line 33: a = x[0]
    a = x[0]
    da = dx[0]
    # line 34: b = x[1:, ::2]
    b = x[1:, ::2]
    db = dx[1:, ::2]
    # line 35: c = x[:, None, 1]
    c = x[:, None, 1]
    dc = dx[:, None, 1]
    # line 36: d = x[idx]
    d = x[idx]
    dd = dx[idx]
    # line 37: return np.sum(a) + np.sum(b * b) + np.sum(c**3) + x[2, 1] + np.sum(np.sin(d))
    out = np.sum(a) + np.sum(b * b) + np.sum(c**3) + x[2, 1] + np.sum(np.sin(d))
    return (
        out,
        np.sum(da)
        + np.sum(2.0 * (db * b))
        + np.sum(dc * 3 * c**2)
        + dx[2, 1]
        + np.sum(dd * np.cos(d)),
    )
