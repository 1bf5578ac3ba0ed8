def jvp_assign_rows(x, v, *, dx):
    # line 72: y = np.tanh(x)
    y = np.tanh(x)
    dy = dx * (1.0 - y * y)
    # line 73: y[0] = v * 2.0
    y_2 = y.copy()
    dy_2 = dy
    y_2[0] = v * 2.0
    dy_2 = assign_tangent(dy_2, 0, None, y_2)
    # line 74: y[1:, 1] += np.sin(v[:2])
    y_6 = y_2[1:, 1] + np.sin(v[:2])
    y_7 = y_2.copy()
    dy_7 = dy_2
    dy_7 = assign_tangent(dy_7, np.s_[1:, 1], broadcast_like(dy_2[1:, 1], y_6), y_7)
    y_7[1:, 1] = y_6
    # line 75: return np.sum(y**2)
    out = np.sum(y_7**2)
    return (out, np.sum(dy_7 * 2 * y_7))
