"""Fit a projectile's launch speed and drag to measured ranges, through a `while` loop.

    python examples/physics_fit.py           # fit, print the parameters, plot physics_fit.png
    python examples/physics_fit.py --quick   # fewer iterations (what CI runs)
    sourcegrad show examples/physics_fit.py:misfit --args "example_args()"

``flight_range`` integrates the flight step by step *until the ball lands*: how many steps run
depends on the parameters being fitted. sourcegrad keeps that `while` loop as a loop in the
derivative (no unrolling, no fixed step count), so the gradient follows exactly the steps taken.
"""

from __future__ import annotations

import argparse

import numpy as np

import sourcegrad as sg

G = 9.81
DT = 0.01


def flight_range(speed, drag, angle):
    """Horizontal distance flown before landing, with quadratic air drag (explicit Euler),
    the landing point found by interpolating the last step."""
    vx = speed * np.cos(angle)
    vy = speed * np.sin(angle)
    x = 0.0
    y = 0.0
    while y >= 0.0:
        v = np.sqrt(vx * vx + vy * vy)
        x_before = x
        y_before = y
        x = x + DT * vx
        y = y + DT * vy
        vx = vx - DT * drag * v * vx
        vy = vy - DT * (G + drag * v * vy)
    return x_before + (x - x_before) * y_before / (y_before - y)


def misfit(params, angles, measured):
    """Mean squared difference between the simulated and the measured ranges."""
    total = 0.0
    for angle, observed in zip(angles, measured):
        total = total + (flight_range(params[0], params[1], angle) - observed) ** 2
    return total / len(angles)


def measurements(seed=0, true=(30.0, 0.02)):
    """Ranges 'measured' at eight launch angles: the model's ranges at ``true`` plus 1% noise."""
    rng = np.random.default_rng(seed)
    angles = np.deg2rad(np.linspace(15.0, 75.0, 8))
    exact = np.array([flight_range(true[0], true[1], a) for a in angles])
    return angles, exact * (1.0 + 0.01 * rng.standard_normal(len(angles)))


def example_args():
    angles, measured = measurements()
    return np.array([20.0, 0.05]), angles, measured


def fit(iterations, plot="physics_fit.png"):
    from scipy.optimize import minimize

    start, angles, measured = example_args()
    value_and_grad = sg.value_and_grad(misfit)
    scale = np.array([10.0, 0.01])  # parameters of order one for the optimizer

    def objective(z):
        value, grad = value_and_grad(z * scale, angles, measured)
        return value, grad * scale

    result = minimize(
        objective, start / scale, jac=True, method="L-BFGS-B", options={"maxiter": iterations}
    )
    speed, drag = result.x * scale
    print(f"fitted speed {speed:.2f} m/s, drag {drag:.4f} 1/m (true: 30.00, 0.0200)")
    print(f"misfit {result.fun:.4f} m^2 after {result.nit} iterations")
    if plot:
        save_plot(angles, measured, (speed, drag), plot)
    return speed, drag, result


def save_plot(angles, measured, fitted, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fine = np.deg2rad(np.linspace(10.0, 80.0, 50))
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(np.rad2deg(angles), measured, "o", label="measured")
    ax.plot(np.rad2deg(fine), [flight_range(*fitted, a) for a in fine], label="fitted model")
    ax.set(xlabel="launch angle (degrees)", ylabel="range (m)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot saved to {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations (CI)")
    parser.add_argument("--plot", default="physics_fit.png", help="'' for no plot")
    args = parser.parse_args(argv)
    fit(5 if args.quick else 100, plot=args.plot)


if __name__ == "__main__":
    main()
