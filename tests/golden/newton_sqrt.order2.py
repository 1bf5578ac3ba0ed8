def jvp_d_newton_sqrt(a, *, ta):
    tape = []
    ttape = zero_tangent(tape)
    # golden_cases.py:55: x = a
    x = a
    tx = ta
    # golden_cases.py:56: while np.abs(x * x - a) > 1e-12:
    x_1 = None
    tx_1 = zero_tangent(x_1)
    n_iter = 0
    while np.abs(x * x - a) > 1e-12:
        ttape_1 = append_tangent(ttape, tx_1, tape, x_1)
        # golden_cases.py:57: x = 0.5 * (x + a / x)
        tape = [*tape, x_1]
        ttape = ttape_1
        x_1 = a / x
        tx_1 = (ta - tx * x_1) / x
        x_2 = x + x_1
        tx_2 = tx + tx_1
        ttape_2 = append_tangent(ttape, tx, tape, x)
        tape = [*tape, x]
        ttape = ttape_2
        x = 0.5 * x_2
        tx = 0.5 * tx_2
        n_iter = n_iter + 1
    dx = 1.0
    tdx = zero_tangent(dx)
    da = 0.0
    tda = zero_tangent(da)
    for __1 in range(n_iter):
        # golden_cases.py:57: x = 0.5 * (x + a / x)
        dx_2 = 0.5 * dx
        tdx_2 = 0.5 * tdx
        x = tape[-1]
        tx = ttape[-1]
        tape = tape[:-1]
        ttape = ttape[:-1]
        dx = dx_2
        tdx = tdx_2
        da_1 = dx_2 / x
        tda = tda + (tdx_2 - tx * da_1) / x
        dx_3 = dx_2 * x_1 / x
        dx = dx - dx_3
        tdx = tdx - (tdx_2 * x_1 + dx_2 * tx_1 - tx * dx_3) / x
        x_1 = tape[-1]
        tx_1 = ttape[-1]
        tape = tape[:-1]
        ttape = ttape[:-1]
    # golden_cases.py:55: x = a
    tda = tda + tdx
    return gradient_like(a, tda)
