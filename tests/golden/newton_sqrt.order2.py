def jvp_d_newton_sqrt(a, *, ta):
    # line 3: tape = []
    tape = []
    ttape = zero_tangent(tape)
    # line 4: x = a
    x = a
    tx = ta
    # line 5: x_1 = None
    x_1 = None
    tx_1 = zero_tangent(x_1)
    n_iter = 0
    # line 7: while np.abs(x * x - a) > 1e-12:
    while np.abs(x * x - a) > 1e-12:
        ttape_1 = append_tangent(ttape, tx_1, tape, x_1)
        # line 8: tape.append(x_1)
        tape = [*tape, x_1]
        ttape = ttape_1
        # line 9: x_1 = a / x
        x_1 = a / x
        tx_1 = (ta - tx * x_1) / x
        # line 10: x_2 = x + x_1
        x_2 = x + x_1
        tx_2 = tx + tx_1
        ttape_2 = append_tangent(ttape, tx, tape, x)
        # line 11: tape.append(x)
        tape = [*tape, x]
        ttape = ttape_2
        # line 12: x = 0.5 * x_2
        x = 0.5 * x_2
        tx = 0.5 * tx_2
        n_iter = n_iter + 1
    # line 16: dx = 1.0
    dx = 1.0
    tdx = zero_tangent(dx)
    # line 18: da = 0.0
    da = 0.0
    tda = zero_tangent(da)
    for __1 in range(n_iter):
        # line 21: dx_2 = 0.5 * dx
        dx_2 = 0.5 * dx
        tdx_2 = 0.5 * tdx
        # line 22: x = tape.pop()
        x = tape[-1]
        tx = ttape[-1]
        tape = tape[:-1]
        ttape = ttape[:-1]
        # line 23: dx = dx_2
        dx = dx_2
        tdx = tdx_2
        # line 24: da = da + dx_2 / x
        da_1 = dx_2 / x
        da = da + da_1
        tda = tda + (tdx_2 - tx * da_1) / x
        # line 25: dx = dx - dx_2 * x_1 / x
        dx_3 = dx_2 * x_1 / x
        dx = dx - dx_3
        tdx = tdx - (tdx_2 * x_1 + dx_2 * tx_1 - tx * dx_3) / x
        # line 26: x_1 = tape.pop()
        x_1 = tape[-1]
        tx_1 = ttape[-1]
        tape = tape[:-1]
        ttape = ttape[:-1]
    # line 28: da = da + dx
    tda = tda + tdx
    return gradient_like(a, tda)
