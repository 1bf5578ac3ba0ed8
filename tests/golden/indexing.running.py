def d_indexing(x, idx):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    a = x[0]
    b = x[1:, ::2]
    c = x[:, None, 1]
    d = x[idx]
    out = (
        np.add.reduce(a, None)
        + np.add.reduce(b * b, None)
        + np.add.reduce(c**3, None)
        + x[2, 1]
        + np.add.reduce(np.sin(d), None)
    )

    # line 37: return np.sum(a) + np.sum(b * b) + np.sum(c**3) + x[2, 1] + np.sum(np.sin(d))
    dd = np.cos(d)
    dx = unindex_shaped(1.0, (4, 5), np.float64, (2, 1))
    dc = np.multiply(3.0, c**2, buffers[0])
    db = np.multiply(2.0, b, buffers[1])
    da = unreduce(1.0, a)
    # line 36: d = x[idx]
    dx += unindex_shaped(dd, (4, 5), np.float64, idx)
    # line 35: c = x[:, None, 1]
    dx[:, None, 1] += dc
    # line 34: b = x[1:, ::2]
    dx[1:, ::2] += db
    spare.append(buffers)
    return (out, gradient_like(x, {(0,): da, (): dx}))
