def jvp_d_newton_sqrt(a, *, ta):
    # line 3: tape = []
    tape = []
    ttape = zero_tangent(tape)
    # line 4: x = a
    x = a
    tx = ta
    # line 5: cond = np.abs(x * x - a) > 1e-12
    cond_3 = np.abs(x * x - a)
    cond = cond_3 > 1e-12
    # line 6: x_1 = None
    x_1 = None
    tx_1 = zero_tangent(x_1)
    n_iter = 0
    cond_4 = cond
    while cond_4:
        ttape_1 = append_tangent(ttape, tx_1, tape, x_1)
        # line 9: tape.append(x_1)
        tape = [*tape, x_1]
        ttape = ttape_1
        # line 10: x_1 = a / x
        x_1 = a / x
        tx_1 = ta / x - tx * x_1 / x
        # line 11: x_2 = x + x_1
        x_2 = x + x_1
        tx_2 = tx + tx_1
        ttape_2 = append_tangent(ttape, tx, tape, x)
        # line 12: tape.append(x)
        tape = [*tape, x]
        ttape = ttape_2
        # line 13: x = 0.5 * x_2
        x = 0.5 * x_2
        tx = 0.5 * tx_2
        # line 14: cond = np.abs(x * x - a) > 1e-12
        cond = np.abs(x * x - a) > 1e-12
        n_iter = n_iter + 1
        cond_4 = cond
    # line 18: dx = 1.0
    dx = 1.0
    tdx = zero_tangent(dx)
    # line 20: da = 0.0
    da = 0.0
    tda = zero_tangent(da)
    for __1 in range(n_iter):
        # line 23: dx_2 = 0.5 * dx
        dx_2 = 0.5 * dx
        tdx_2 = 0.5 * tdx
        # line 24: x = tape.pop()
        x = tape[-1]
        tx = ttape[-1]
        tape = tape[:-1]
        ttape = ttape[:-1]
        # line 25: dx = dx_2
        dx = dx_2
        tdx = tdx_2
        # line 26: da = da + dx_2 / x
        da_1 = dx_2 / x
        da = da + da_1
        tda = tda + (tdx_2 / x - tx * da_1 / x)
        # line 27: dx = dx - dx_2 * x_1 / x
        dx_3 = dx_2 * x_1 / x
        dx = dx - dx_3
        tdx = tdx - ((tdx_2 * x_1 + dx_2 * tx_1) / x - tx * dx_3 / x)
        # line 28: x_1 = tape.pop()
        x_1 = tape[-1]
        tx_1 = ttape[-1]
        tape = tape[:-1]
        ttape = ttape[:-1]
    # line 30: da = da + dx
    tda_3 = tda + tdx
    tda = tda_3
    # line 31: return (value, gradient_like(a, da))
    taux_1 = gradient_like(a, tda)
    return taux_1
