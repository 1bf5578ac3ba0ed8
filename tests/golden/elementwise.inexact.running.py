def d_elementwise_loss(x, a):
    spare = pool.spare
    buffers = spare.pop() if spare else pool.new()
    out_2 = np.tanh(x * a, buffers[0])
    out_7 = x * x
    out_5 = np.exp(-out_7, buffers[1])
    out = np.add.reduce(out_2 * out_5 + np.log1p(out_7), None)

    # line 98: return np.sum(np.tanh(x * a) * np.exp(-x * x) + np.log1p(x * x))
    dx = np.divide(x, np.add(1.0, out_7, out=out_7), out=out_7)
    dx = np.multiply(2.0, dx, out=dx)
    dx += np.multiply(
        out_5,
        np.subtract(
            a * (1.0 - out_2 * out_2),
            np.multiply(2.0, np.multiply(out_2, x, out=out_2), out=out_2),
            out=out_2,
        ),
        out=out_5,
    )
    spare.append(buffers)
    return (out, build_gradient(x, dx))
