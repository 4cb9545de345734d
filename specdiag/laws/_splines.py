"""The three piecewise polynomials the law numerics evaluate, in plain numpy.

Why not scipy.interpolate: importing it costs about a third of a second (it pulls in
scipy.sparse and scipy.spatial), more than everything else a command prints a law number from.
These are small, exact ports of what the laws used from it:

- :class:`HermiteCubic`: ``scipy.interpolate.CubicHermiteSpline(..., extrapolate=False)`` (the
  same piecewise-polynomial coefficients, evaluated by Horner's rule in x - x_i; NaN outside);
- :func:`pchip_slopes`: the slopes of ``scipy.interpolate.PchipInterpolator`` (Fritsch-Carlson
  weighted harmonic means, Moler's one-sided end slopes);
- :func:`bspline_value`: ``scipy.interpolate.BSpline(t, c, k)(x)`` at one point (de Boor).

tests/test_laws.py checks each against SciPy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["HermiteCubic", "pchip_slopes", "bspline_value"]


class HermiteCubic:
    """Piecewise cubic with values ``y`` and slopes ``dydx`` at increasing knots ``x``; NaN outside [x0, x_end]."""

    def __init__(self, x: np.ndarray, y: np.ndarray, dydx: np.ndarray):
        x, y, dydx = (np.asarray(v, dtype=float) for v in (x, y, dydx))
        if x.ndim != 1 or x.size < 2 or not np.all(np.diff(x) > 0):
            raise ValueError("HermiteCubic needs at least two strictly increasing knots")
        dx = np.diff(x)
        slope = np.diff(y) / dx
        t = (dydx[:-1] + dydx[1:] - 2 * slope) / dx
        self.x = x
        # coefficients of d^3, d^2, d, 1 on each piece, d = x - x_i (as scipy's PPoly holds them)
        self.c = np.stack((t / dx, (slope - dydx[:-1]) / dx - t, dydx[:-1], y[:-1]))

    def _pieces(self, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        i = np.clip(np.searchsorted(self.x, xs, side="right") - 1, 0, self.x.size - 2)
        inside = (xs >= self.x[0]) & (xs <= self.x[-1])
        return i, xs - self.x[i], inside

    def __call__(self, xs) -> np.ndarray:
        xs = np.asarray(xs, dtype=float)
        i, d, inside = self._pieces(xs)
        c = self.c
        with np.errstate(invalid="ignore", over="ignore"):  # outside (d infinite): replaced by NaN below
            value = ((c[0, i] * d + c[1, i]) * d + c[2, i]) * d + c[3, i]
        return np.where(inside, value, np.nan)

    def derivative(self, xs) -> np.ndarray:
        """The first derivative at ``xs`` (NaN outside the knots)."""
        xs = np.asarray(xs, dtype=float)
        i, d, inside = self._pieces(xs)
        c = self.c
        with np.errstate(invalid="ignore", over="ignore"):
            value = (3 * c[0, i] * d + 2 * c[1, i]) * d + c[2, i]
        return np.where(inside, value, np.nan)


def _pchip_end(h0: float, h1: float, m0: float, m1: float) -> float:
    """One-sided three-point end slope, kept shape-preserving (Moler, pchiptx)."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > 3 * abs(m0):
        return 3 * m0
    return d


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The knot slopes of the monotone PCHIP interpolant through (x, y) (x strictly increasing)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    h = np.diff(x)
    m = np.diff(y) / h
    if x.size == 2:
        return np.array([m[0], m[0]])
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    flat = (np.sign(m[1:]) != np.sign(m[:-1])) | (m[1:] == 0) | (m[:-1] == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 / m[:-1] + w2 / m[1:]) / (w1 + w2)
        inner = np.where(flat, 0.0, 1.0 / harmonic)
    return np.concatenate([[_pchip_end(h[0], h[1], m[0], m[1])], inner, [_pchip_end(h[-1], h[-2], m[-1], m[-2])]])


def bspline_value(t: np.ndarray, c: np.ndarray, k: int, x: float) -> float:
    """The spline sum_i c_i B_{i,k}(x) with knots ``t`` at one x inside [t_k, t_{n}] (de Boor's recursion)."""
    t, c = np.asarray(t, dtype=float), np.asarray(c, dtype=float)
    n = t.size - k - 1
    i = int(np.clip(np.searchsorted(t, x, side="right") - 1, k, n - 1))
    d = [float(c[j + i - k]) for j in range(k + 1)]
    for r in range(1, k + 1):
        for j in range(k, r - 1, -1):
            left = t[j + i - k]
            alpha = (x - left) / (t[j + 1 + i - r] - left)
            d[j] = (1.0 - alpha) * d[j - 1] + alpha * d[j]
    return float(d[k])
