def d_branchy(x, y):
    tape = []
    returned = False
    result = None
    cond = np.add.reduce(x, None) > 0
    z = None
    if cond:
        z = x * y
    else:
        cond_3 = np.add.reduce(y, None) > 0
        if cond_3:
            z_1 = np.sin(x)
            z = np.add(z_1, y, out=z_1)
        else:
            result_1 = x**2
            result = np.add.reduce(result_1, None)
            returned = True
    cond_4 = not returned
    if cond_4:
        result_2 = z**2
        tape.append(result)
        result = np.add.reduce(result_2, None)
    value = result

    dresult = 1.0
    # line 68: return np.sum(z**2)
    if cond_4:
        result = tape.pop()
        dz = unreduce(dresult, result_2) * 2 * z
        dresult = zero_adjoint(result)
    else:
        dz = zero_adjoint(z)
    # line 62: if np.sum(x) > 0:
    if cond:
        # line 63: z = x * y
        dx = dz * y
    else:
        # line 64: elif np.sum(y) > 0:
        if cond_3:
            # line 65: z = np.sin(x) + y
            dx = dz * np.cos(x)
        else:
            # line 67: return np.sum(x**2)
            dx = unreduce(dresult, result_1) * 2 * x
    return (value, build_gradient(x, dx))
