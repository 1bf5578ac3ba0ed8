def d_newton_sqrt(a):
    tape = []
    x = a
    x_1 = None
    n_iter = 0
    while np.abs(x * x - a) > 1e-12:
        tape.append(x_1)
        x_1 = a / x
        x_2 = x + x_1
        tape.append(x)
        x = 0.5 * x_2
        n_iter = n_iter + 1
    value = x

    dx = 1.0
    # line 56: while np.abs(x * x - a) > 1e-12:
    da = 0.0
    for __1 in range(n_iter):
        # line 57: x = 0.5 * (x + a / x)
        dx_2 = 0.5 * dx
        x = tape.pop()
        dx = dx_2
        da = da + dx_2 / x
        dx = dx - dx_2 * x_1 / x
        x_1 = tape.pop()
    # line 55: x = a
    da = da + dx
    return (value, gradient_like(a, da))
