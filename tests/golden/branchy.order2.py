def jvp_d_branchy(x, y, *, tx):
    # line 3: tape = []
    tape = []
    returned = False
    # line 5: result = None
    result = None
    # line 6: cond = np.sum(x) > 0
    cond = np.sum(x) > 0
    # line 7: z = None
    z = None
    tz = zero_tangent(z)
    if cond:
        # line 9: z = x * y
        z = x * y
        tz = tx * y
    else:
        cond_3 = np.sum(y) > 0
        if cond_3:
            # line 13: z_1 = np.sin(x)
            z_1 = np.sin(x)
            tz_1 = tx * np.cos(x)
            # line 14: z = z_1 + y
            z = z_1 + y
            tz = broadcast_like(tz_1, z)
        else:
            # line 16: result_1 = x ** 2
            result_1 = x**2
            # line 17: result = np.sum(result_1)
            result = np.sum(result_1)
            returned = True
    cond_4 = not returned
    if cond_4:
        # line 21: result_2 = z ** 2
        result_2 = z**2
        # line 22: tape.append(result)
        tape = [*tape, result]
    dresult = 1.0
    if cond_4:
        # line 29: result = tape.pop()
        result = tape[-1]
        dz_2 = unreduce(dresult, result_2) * 2
        # line 30: dz = unreduce(dresult, result_2) * 2 * z
        dz = dz_2 * z
        tdz = dz_2 * tz
        dresult = zero_adjoint(result)
    else:
        # line 33: dz = zero_adjoint(z)
        dz = zero_adjoint(z)
        tdz = zero_tangent(dz)
    if cond:
        # line 37: dx = sum_to(dz * y, x)
        tdx = sum_to(tdz * y, x)
    else:
        if cond_3:
            # line 42: dx = sum_to(dz, z_1) * np.cos(x)
            dx_2 = sum_to(dz, z_1)
            dx_3 = np.cos(x)
            tdx = sum_to(tdz, z_1) * dx_3 + dx_2 * (-tx * np.sin(x))
        else:
            dx_5 = unreduce(dresult, result_1) * 2
            # line 45: dx = unreduce(dresult, result_1) * 2 * x
            tdx = dx_5 * tx
    return gradient_like(x, tdx)
