def jvp_branchy(x, y, *, dx):
    returned = False
    # line 62: if np.sum(x) > 0:
    result = None
    dresult = zero_tangent(result)
    if np.sum(x) > 0:
        # line 63: z = x * y
        z = x * y
        dz = dx * y
    else:
        if np.sum(y) > 0:
            # line 65: z = np.sin(x) + y
            z = np.sin(x) + y
            dz = broadcast_like(dx * np.cos(x), z)
        else:
            # line 67: return np.sum(x**2)
            result = np.sum(x**2)
            dresult = np.sum(dx * 2 * x)
            returned = True
    if not returned:
        # line 68: return np.sum(z**2)
        result = np.sum(z**2)
        dresult = np.sum(dz * 2 * z)
    return (result, dresult)
