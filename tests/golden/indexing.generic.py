def d_indexing(x, idx):
    a = x[0]
    b = x[1:, ::2]
    c = x[:, None, 1]
    d = x[idx]
    out = np.sum(a) + np.sum(b * b) + np.sum(c**3) + x[2, 1] + np.sum(np.sin(d))

    # line 37: return np.sum(a) + np.sum(b * b) + np.sum(c**3) + x[2, 1] + np.sum(np.sin(d))
    dd = np.cos(d)
    dx = unindex(1.0, x, (2, 1))
    dc = 3.0 * c**2
    db = 2.0 * b
    da = unreduce(1.0, a)
    # line 36: d = x[idx]
    dx = dx + unindex(dd, x, idx)
    # line 35: c = x[:, None, 1]
    dx = dx + unindex(dc, x, np.s_[:, None, 1])
    # line 34: b = x[1:, ::2]
    dx = dx + unindex(db, x, np.s_[1:, ::2])
    return (out, gradient_like(x, {(0,): da, (): dx}))
