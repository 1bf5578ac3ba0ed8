def jvp_newton_sqrt(a, *, da):
    # line 55: x = a
    x = a
    dx = da
    # line 56: while np.abs(x * x - a) > 1e-12:
    while np.abs(x * x - a) > 1e-12:
        # line 57: x = 0.5 * (x + a / x)
        x_1 = a / x
        dx_2 = dx + (da - dx * x_1) / x
        x = 0.5 * (x + x_1)
        dx = 0.5 * dx_2
    return (x, float_gradient(dx))
