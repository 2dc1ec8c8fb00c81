"""Fit the rational approximation of erf that the Numba kernels use for GELU, and check it.

C's erf is a function call per element that no compiler vectorises, and at about 6 ns a call it
would cost as much as the feed-forward's matrix products. The kernels instead evaluate

    erf(x) ~= x * P(x^2) / Q(x^2)   for |x| <= X_MAX,   and sign(x) beyond,

with P and Q low-degree polynomials (Q(0) = 1): a few multiplies, adds and one division, which
LLVM turns into SIMD code. The coefficients are fitted here, by iteratively reweighted linear least
squares on the absolute error of erf (the error GELU inherits, times x / 2), against math.erf in
float64. Run this file to refit and to print the float32 error of the kernel's evaluation.

    python tools/fit_erf.py [--p-degree 5 --q-degree 5]
"""

import argparse
import math

import numpy as np

X_MAX = 4.0  # erf(4) = 1 - 1.5e-8 rounds to 1 in float32


def fit(p_degree: int, q_degree: int, iterations: int = 30):
    x = np.cos(np.linspace(0, np.pi / 2, 20001)) * X_MAX  # Chebyshev-like nodes on [0, X_MAX]
    x = np.sort(x)[1:]
    s = x * x
    target = np.array([math.erf(v) for v in x])
    g = target / x  # fit erf(x) / x as a function of s = x^2
    weight = x.copy()  # absolute error of erf = x * error of g
    q_values = np.ones_like(s)
    for _ in range(iterations):
        # Minimise sum (w / Q_prev)^2 (P(s) - g Q(s))^2: Loeb's linearisation of the rational fit.
        w = weight / np.abs(q_values)
        columns = [s ** k for k in range(p_degree + 1)] + [-g * s ** k for k in range(1, q_degree + 1)]
        A = np.stack(columns, axis=1) * w[:, None]
        coef, *_ = np.linalg.lstsq(A, g * w, rcond=None)
        p, q = coef[:p_degree + 1], np.concatenate([[1.0], coef[p_degree + 1:]])
        q_values = np.polyval(q[::-1], s)
        # Reweight toward the worst points so the fit approaches minimax.
        err = np.abs(x * np.polyval(p[::-1], s) / q_values - target)
        weight = weight * (1 + 4 * err / err.max())
    return p, q


def evaluate_float32(p, q, x):
    """The kernel's arithmetic: a float32 input, clamped, Horner for P and Q and one division in
    float64 (in float32 the rounding of Horner's steps alone costs 4e-7), rounded to float32."""
    x = np.clip(x.astype(np.float32).astype(np.float64), -X_MAX, X_MAX)
    s = x * x
    num = p[-1]
    for c in p[-2::-1]:
        num = num * s + c
    den = q[-1]
    for c in q[-2::-1]:
        den = den * s + c
    return (x * num / den).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--p-degree", type=int, default=5)
    parser.add_argument("--q-degree", type=int, default=5)
    args = parser.parse_args()
    p, q = fit(args.p_degree, args.q_degree)
    x = np.linspace(-8, 8, 2_000_001)
    exact = np.array([math.erf(v) for v in x])
    f64 = np.clip(x, -X_MAX, X_MAX)
    f64 = f64 * np.polyval(p[::-1], f64 ** 2) / np.polyval(q[::-1], f64 ** 2)
    f32 = evaluate_float32(p, q, x)
    gelu = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    x32 = x.astype(np.float32)
    gelu32 = np.float32(0.5) * x32 * (1 + evaluate_float32(p, q, x32 * np.float32(1 / math.sqrt(2))))
    print(f"P degree {args.p_degree}, Q degree {args.q_degree}")
    print(f"max |erf error|: float64 evaluation {np.abs(f64 - exact).max():.2e}, "
          f"float32 evaluation {np.abs(f32 - exact).max():.2e} (float32 spacing at 1: {2 ** -23:.2e})")
    print(f"max |gelu error| on [-8, 8] in float32: {np.abs(gelu32 - gelu).max():.2e}, "
          f"relative to |gelu| + 1: {(np.abs(gelu32 - gelu) / (np.abs(gelu) + 1)).max():.2e}")
    print("P =", "(" + ", ".join(repr(float(c)) for c in p) + ")")
    print("Q =", "(" + ", ".join(repr(float(c)) for c in q) + ")")


if __name__ == "__main__":
    main()
