def jvp_d_branchy(x, y, *, tx):
    tape = []
    returned = False
    # golden_cases.py:62: if np.sum(x) > 0:
    result = None
    cond = np.sum(x) > 0
    z = None
    tz = zero_tangent(z)
    if cond:
        # golden_cases.py:63: z = x * y
        z = x * y
        tz = tx * y
    else:
        cond_3 = np.sum(y) > 0
        if cond_3:
            # golden_cases.py:65: z = np.sin(x) + y
            z_1 = np.sin(x)
            tz_1 = tx * np.cos(x)
            z = z_1 + y
            tz = broadcast_like(tz_1, z)
        else:
            # golden_cases.py:67: return np.sum(x**2)
            result_1 = x**2
            result = np.sum(result_1)
            returned = True
    cond_4 = not returned
    if cond_4:
        # golden_cases.py:68: return np.sum(z**2)
        result_2 = z**2
        tape = [*tape, result]
    dresult = 1.0
    if cond_4:
        # golden_cases.py:68: return np.sum(z**2)
        result = tape[-1]
        dz_2 = unreduce(dresult, result_2) * 2
        dz = dz_2 * z
        tdz = dz_2 * tz
        dresult = zero_adjoint(result)
    else:
        dz = zero_adjoint(z)
        tdz = zero_tangent(dz)
    if cond:
        # golden_cases.py:63: z = x * y
        tdx = sum_to(tdz * y, x)
    else:
        if cond_3:
            # golden_cases.py:65: z = np.sin(x) + y
            dx_2 = sum_to(dz, z_1)
            dx_3 = np.cos(x)
            tdx = sum_to(tdz, z_1) * dx_3 + dx_2 * (-tx * np.sin(x))
        else:
            dx_5 = unreduce(dresult, result_1) * 2
            # golden_cases.py:67: return np.sum(x**2)
            tdx = dx_5 * tx
    return gradient_like(x, tdx)
