def jvp_branchy(x, y, *, dx):
    returned = False
    # line 62: if np.sum(x) > 0:
    result = None
    dresult = zero_tangent(result)
    cond = np.sum(x) > 0
    if cond:
        # line 63: z = x * y
        z = x * y
        dz = dx * y
    else:
        cond_3 = np.sum(y) > 0
        if cond_3:
            # line 65: z = np.sin(x) + y
            z = np.sin(x) + y
            dz = broadcast_like(dx * np.cos(x), z)
        else:
            # line 67: return np.sum(x**2)
            result = np.sum(x**2)
            dresult = np.sum(dx * 2 * x)
            returned = True
    cond_4 = not returned
    if cond_4:
        # line 68: return np.sum(z**2)
        result = np.sum(z**2)
        dresult = np.sum(dz * 2 * z)
    return (result, dresult)
