"""The finite-n law of the real Glorot radius: the shipped Monte Carlo table and its model in n.

Real Gaussian matrices have no closed-form radius law. specdiag ships a Monte Carlo table
(``specdiag/data/real_glorot_radius.json``, made by ``scripts/build_real_law.py``) with standard
errors at widths 2..2048, and a model of it in n stored in the same file: every statistic relative
to Kostlan's exact complex law at the same n, a weighted cubic smoothing spline in log n
(:class:`RealModel`). At one width the law is a quantile function (:class:`TabulatedQuantiles`): a
least-squares cubic in the Gumbel variate through the modelled quantiles 0.01..0.99 with Gumbel
tails beyond them. Beyond 2048 the model is extrapolated with the Rider-Sinclair edge scaling.

Plain numpy (the splines are evaluated by :mod:`._splines`): nothing here imports scipy.stats or
scipy.interpolate, so commands print the table's numbers at the cost of a numpy import.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .._theory import g_n
from .._validation import whole_number
from . import _kostlan
from ._splines import HermiteCubic, bspline_value, pchip_slopes

__all__ = [
    "SOURCE_INTERPOLATED",
    "SOURCE_EXTRAPOLATED",
    "RealModel",
    "TabulatedQuantiles",
    "RealGinibreSummary",
    "RealGinibreTable",
    "real_model",
    "real_quantiles",
    "real_moments",
    "real_ginibre_table",
    "gumbel_u",
    "PAbove",
    "p_above",
]

_TABLE_FILE = "real_glorot_radius.json"
SOURCE_INTERPOLATED = "finite-n Monte Carlo table (interpolated)"
SOURCE_EXTRAPOLATED = "extrapolated beyond the table (Rider-Sinclair edge scaling)"


@lru_cache(maxsize=1)
def real_table_doc() -> dict:
    """The shipped table (loaded once, lazily)."""
    try:
        text = resources.files("specdiag").joinpath("data").joinpath(_TABLE_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as err:  # pragma: no cover - a broken install
        raise RuntimeError(f"specdiag's package data {_TABLE_FILE} is missing: reinstall specdiag") from err
    return json.loads(text)


def _edge_scale(n: float) -> float:
    """Rider's scale 1/sqrt(4 n g_n) (n >= 164)."""
    return 1.0 / math.sqrt(4.0 * n * float(g_n(n)))


class RealModel:
    """Evaluates the stored model of ``doc`` (see :func:`real_ginibre`) at any width n >= 2.

    Every statistic is modelled relative to the exact complex (Kostlan) law at the same n, as a
    cubic smoothing spline in log n stored as B-spline knots and coefficients (no fitting here):

    - quantiles: the median is kostlan's median + D(log n); the spacing between consecutive levels
      p < p' is kostlan's spacing times exp(L_pp'(log n)), so the quantiles increase with p;
    - mean: kostlan mean + D(log n); sd and Gumbel scale: kostlan sd * exp(L(log n));
      Gumbel location: kostlan mean + D(log n);
    - P(rho > 1): logistic of a spline in log n.

    Beyond the largest tabulated width N the differences D are scaled by the edge scale
    b_n / b_N (b_n = 1/sqrt(4 n g_n): the real-complex difference of Rider-Sinclair's limit is
    -log(2) b_n at every quantile), log ratios L are held at their value at N, and P(rho > 1) comes
    from the extrapolated quantile function.
    """

    def __init__(self, doc: dict):
        self.doc = doc
        self.probs = np.array(doc["probs"], dtype=float)
        model = doc["model"]
        self.n_min, self.n_max = int(model["n_min"]), int(model["n_max"])
        self.splines = {
            k: (np.array(v["t"], dtype=float), np.array(v["c"], dtype=float), int(v["k"]))
            for k, v in model["splines"].items()
        }

    def _spline(self, key: str, n: float) -> float:
        t, c, k = self.splines[key]
        lo, hi = t[k], t[-k - 1]  # the stored knots are rounded: clip into them
        return bspline_value(t, c, k, min(max(math.log(min(n, self.n_max)), lo), hi))

    def _diff(self, key: str, n: float) -> float:
        d = self._spline(key, n)
        return d * _edge_scale(n) / _edge_scale(self.n_max) if n > self.n_max else d

    def evaluate(self, n: int) -> dict:
        kq = _kostlan.quantile_of(self.probs, n)
        kmean, kvar = _kostlan.moments(n)[:2]
        ksd = math.sqrt(kvar)
        # quantiles: the median, then spacings between consecutive levels (increasing by construction)
        probs = self.probs
        ratios = np.exp(
            [self._spline(f"log_spacing_ratio_{probs[i]:g}_{probs[i + 1]:g}", n) for i in range(probs.size - 1)]
        )
        steps = np.diff(kq) * ratios
        mid = int(np.argmin(np.abs(probs - 0.5)))
        q = np.empty(probs.size)
        q[mid] = kq[mid] + self._diff("median_diff", n)
        q[mid + 1 :] = q[mid] + np.cumsum(steps[mid:])
        q[:mid] = q[mid] - np.cumsum(steps[:mid][::-1])[::-1]
        out: dict = {
            "mean": kmean + self._diff("mean_diff", n),
            "sd": ksd * math.exp(self._spline("log_sd_ratio", n)),
            "gumbel_loc": kmean + self._diff("gumbel_loc_diff", n),
            "gumbel_scale": ksd * math.exp(self._spline("log_gumbel_scale_ratio", n)),
            "quantiles": q,
            "extrapolated": n > self.n_max,
        }
        if out["extrapolated"]:  # from the extrapolated quantile function
            u1 = TabulatedQuantiles(self.probs, out["quantiles"], out["gumbel_scale"], None).u_of_r(np.array([1.0]))[0]
            out["p_above_1"] = float(-np.expm1(-np.exp(-u1)))
        else:
            out["p_above_1"] = 1.0 / (1.0 + math.exp(-self._spline("logit_p_above_1", n)))
        return out

    def table_se(self, n: int) -> dict:
        """Monte Carlo SEs of the table near n: the grid's SEs interpolated in log n (held beyond it)."""
        grid = self.doc["grid"]
        x = np.log([r["n"] for r in grid])
        xi = math.log(min(max(n, self.n_min), self.n_max))
        se: dict = {
            key: float(np.interp(xi, x, [r[key] for r in grid]))
            for key in ("mean_se", "sd_se", "p_above_1_se", "gumbel_loc_se", "gumbel_scale_se")
        }
        qse = np.array([r["quantiles_se"] for r in grid])
        se["quantiles_se"] = np.array([np.interp(xi, x, qse[:, i]) for i in range(qse.shape[1])])
        if n > self.n_max:  # absolute SEs shrink like the edge scale
            factor = _edge_scale(n) / _edge_scale(self.n_max)
            se = {k: v * factor for k, v in se.items()}
        return se


@lru_cache(maxsize=512)
def evaluated(n: int) -> dict:
    """:meth:`RealModel.evaluate` at width n, cached (the summary and the quantile function share it)."""
    return real_model().evaluate(n)


@lru_cache(maxsize=1)
def real_model() -> RealModel:
    return RealModel(real_table_doc())


class TabulatedQuantiles:
    """Quantile function of the real law at one width: a least-squares cubic in the Gumbel
    variate u = -log(-log p) through the modelled quantiles (0.01..0.99), Gumbel tails beyond them
    with the cubic's end slopes beta: above, r = q_0.99 + beta (u - u_0.99); below,
    log r = log q_0.01 + (beta / q_0.01)(u - u_0.01) (a Gumbel tail for log r: same slope at the
    junction, and r stays positive), so the density is continuous.

    With ``p_le_1`` (the table's own model of P(rho <= 1)) the cubic is constrained to pass
    exactly through (u(p_le_1), 1), so ``sf(1)`` is the table's P(rho > 1) at every width: one
    source for the number ``theory`` and ``radius`` print. Where p_le_1 lies below the first level
    the point extends the cubic's range (it replaces the Gumbel tail up to it)."""

    def __init__(self, probs: np.ndarray, quantiles: np.ndarray, beta: float, p_le_1: float | None):
        u, r = gumbel_u(np.asarray(probs, dtype=float)), np.asarray(quantiles, dtype=float)
        u1 = None
        if p_le_1 is not None and 0.0 < p_le_1 < 1.0:
            u1 = float(gumbel_u(p_le_1))
            if u1 < u[0] and r[0] > 1.0:
                u, r = np.insert(u, 0, u1), np.insert(r, 0, 1.0)
            elif u1 > u[-1] and r[-1] < 1.0:
                u, r = np.append(u, u1), np.append(r, 1.0)
            elif not u[0] <= u1 <= u[-1]:
                u1 = None  # on the wrong side of a node (Monte Carlo noise): no constraint
        self.u, self.r = u, r
        # The quantile function inside [q_0.01, q_0.99] is a cubic polynomial in u fitted to the
        # modelled quantiles by least squares: a Gumbel law is r linear in u, and the cubic's two
        # extra terms absorb the skew without following the Monte Carlo noise of single nodes
        # (interpolating splines through the nodes put wiggles into the density). Outside, Gumbel
        # tails whose slopes match the cubic's end slopes, so the density is continuous.
        cubic = _cubic_fit(u, r, u1)
        fine = np.linspace(u[0], u[-1], 2001)
        if np.all(cubic.deriv()(fine) > 0):
            knots = np.array([u[0], u[-1]])
            spline = HermiteCubic(knots, cubic(knots), cubic.deriv()(knots))
            # a cubic Hermite piece with the cubic's values and slopes at its ends is the cubic itself
            self.r = np.array([spline(u[0]), *cubic(u[1:-1]), spline(u[-1])])
            self.beta_lo, self.beta_hi = float(cubic.deriv()(u[0])), float(cubic.deriv()(u[-1]))
        else:  # not monotone (never seen on the table): interpolate with PCHIP slopes
            if u1 is not None and u1 not in u:
                at = int(np.searchsorted(u, u1))
                u, r = np.insert(u, at, u1), np.insert(r, at, 1.0)
                self.u, self.r = u, r
            secant = np.diff(r) / np.diff(u)
            self.beta_lo = float(np.clip(beta, 1e-3 * secant[0], 3.0 * secant[0]))
            self.beta_hi = float(np.clip(beta, 1e-3 * secant[-1], 3.0 * secant[-1]))
            slopes = pchip_slopes(u, r)
            slopes[0], slopes[-1] = self.beta_lo, self.beta_hi
            spline = HermiteCubic(u, r, slopes)
        self.spline = spline
        self.dspline = self.spline.derivative

    def r_of_u(self, u):
        u = np.asarray(u, dtype=float)
        r = self.spline(np.clip(u, self.u[0], self.u[-1]))
        r = np.where(u > self.u[-1], self.r[-1] + self.beta_hi * (u - self.u[-1]), r)
        lo_slope = self.beta_lo / self.r[0]
        return np.where(u < self.u[0], self.r[0] * np.exp(lo_slope * (u - self.u[0])), r)

    def drdu(self, u):
        u = np.asarray(u, dtype=float)
        d = self.dspline(np.clip(u, self.u[0], self.u[-1]))
        d = np.where(u > self.u[-1], self.beta_hi, d)
        lo_slope = self.beta_lo / self.r[0]
        return np.where(u < self.u[0], lo_slope * self.r[0] * np.exp(lo_slope * (u - self.u[0])), d)

    def density(self, r):
        """The density dP/dr at radii r: the Gumbel density in u over dr/du (0 where it underflows)."""
        u = self.u_of_r(r)
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.exp(-u - np.exp(-u)) / self.drdu(u)
        return np.where(np.isfinite(out), out, 0.0)

    def u_of_r(self, r):
        """Inverse of r_of_u (tails in closed form, PCHIP pieces by bisection)."""
        r = np.asarray(r, dtype=float)
        out = np.empty(r.shape)
        hi_tail, lo_tail = r >= self.r[-1], r <= self.r[0]
        out[hi_tail] = self.u[-1] + (r[hi_tail] - self.r[-1]) / self.beta_hi
        with np.errstate(divide="ignore"):
            out[lo_tail] = self.u[0] + np.log(r[lo_tail] / self.r[0]) * self.r[0] / self.beta_lo
        mid = ~(hi_tail | lo_tail)
        if mid.any():
            rm = r[mid]
            k = np.clip(np.searchsorted(self.r, rm) - 1, 0, self.r.size - 2)
            lo, hi = self.u[k].copy(), self.u[k + 1].copy()
            for _ in range(60):
                m = 0.5 * (lo + hi)
                below = self.spline(m) < rm
                lo, hi = np.where(below, m, lo), np.where(below, hi, m)
            out[mid] = 0.5 * (lo + hi)
        return out


def _cubic_fit(u: np.ndarray, r: np.ndarray, u1: float | None) -> np.polynomial.Polynomial:
    """Least-squares cubic r(u) through the nodes; with u1, constrained to r(u1) = 1 exactly
    (r = 1 + a (u - u1) + b (u - u1)^2 + c (u - u1)^3, least squares for a, b, c)."""
    if u1 is None:
        return np.polynomial.Polynomial(np.polynomial.polynomial.polyfit(u, r, 3))
    d = u - u1
    coef = np.linalg.lstsq(np.stack([d, d**2, d**3], axis=1), r - 1.0, rcond=None)[0]
    return np.polynomial.Polynomial([1.0, *coef])(np.polynomial.Polynomial([-u1, 1.0]))


@lru_cache(maxsize=512)
def real_quantiles(n: int) -> TabulatedQuantiles:
    model = real_model()
    ev = evaluated(n)
    p_le_1 = None if ev["extrapolated"] else 1.0 - ev["p_above_1"]
    return TabulatedQuantiles(model.probs, ev["quantiles"], ev["gumbel_scale"], p_le_1)


@lru_cache(maxsize=512)
def real_moments(n: int) -> tuple[float, float]:
    """Mean and variance of the interpolated law itself (Gauss-Legendre in u on [-4, 40])."""
    t = real_quantiles(n)
    nodes, weights = np.polynomial.legendre.leggauss(64)
    edges = np.concatenate([[-4.0], t.u, [max(40.0, t.u[-1] + 1)]])
    a, b = edges[:-1, None], edges[1:, None]
    u = (0.5 * (b - a) * nodes + 0.5 * (a + b)).ravel()
    w = (0.5 * (b - a) * weights).ravel() * np.exp(-u - np.exp(-u))  # dp = gumbel density du
    r = t.r_of_u(u)
    mass = w.sum()
    mean = np.sum(w * r) / mass
    return float(mean), float(np.sum(w * (r - mean) ** 2) / mass)


@dataclass(frozen=True)
class RealGinibreSummary:
    """Tabulated summary of the real Glorot radius law at one width, with Monte Carlo SEs.

    Values are the model's (interpolated) values; SEs are those of the Monte Carlo table near n
    (the grid's SEs interpolated in log n), not counting the interpolation error, which the
    table's ``validation`` measures.
    """

    n: int
    mean: float
    mean_se: float
    sd: float
    sd_se: float
    probs: tuple
    quantiles: tuple
    quantiles_se: tuple
    p_above_1: float
    p_above_1_se: float
    gumbel_loc: float
    gumbel_loc_se: float
    gumbel_scale: float
    gumbel_scale_se: float
    source: str

    def quantile(self, p: float) -> tuple[float, float]:
        """(value, SE) of the tabulated quantile at level p (one of ``probs``)."""
        i = self.probs.index(p)
        return self.quantiles[i], self.quantiles_se[i]


@dataclass(frozen=True)
class RealGinibreTable:
    """The shipped Monte Carlo table of the real Glorot radius (see :func:`real_ginibre_table`).

    ``grid`` and ``held_out`` are lists of per-width rows as measured (``n``, ``samples``, ``mean``,
    ``mean_se``, ``sd``, ``sd_se``, ``quantiles``, ``quantiles_se`` at ``probs``, ``p_above_1``,
    ``p_above_1_se``, ``gumbel_loc``, ``gumbel_scale`` and their SEs); ``validation`` holds the
    model's residuals in SE units; ``metadata`` how it was made.
    """

    probs: tuple
    grid: tuple
    held_out: tuple
    validation: dict
    metadata: dict

    @property
    def widths(self) -> tuple:
        return tuple(int(r["n"]) for r in self.grid)

    def at(self, n: int) -> RealGinibreSummary:
        """The summary at width n (interpolated; extrapolated beyond the table, as ``source`` says)."""
        n = whole_number(n, "n", minimum=2)
        model = real_model()
        ev, se = evaluated(n), model.table_se(n)
        p_above = ev["p_above_1"]
        return RealGinibreSummary(
            n=n,
            mean=ev["mean"],
            mean_se=se["mean_se"],
            sd=ev["sd"],
            sd_se=se["sd_se"],
            probs=tuple(float(p) for p in model.probs),
            quantiles=tuple(float(v) for v in ev["quantiles"]),
            quantiles_se=tuple(float(v) for v in se["quantiles_se"]),
            p_above_1=float(p_above),
            p_above_1_se=se["p_above_1_se"],
            gumbel_loc=ev["gumbel_loc"],
            gumbel_loc_se=se["gumbel_loc_se"],
            gumbel_scale=ev["gumbel_scale"],
            gumbel_scale_se=se["gumbel_scale_se"],
            source=SOURCE_EXTRAPOLATED if ev["extrapolated"] else SOURCE_INTERPOLATED,
        )


@lru_cache(maxsize=1)
def real_ginibre_table() -> RealGinibreTable:
    """The shipped Monte Carlo table of the real Glorot radius law (loaded lazily, cached).

    Returns
    -------
    RealGinibreTable
        Raw per-width rows with SEs, held-out rows, validation and metadata; ``.at(n)`` gives a
        :class:`RealGinibreSummary` at any width n >= 2.

    Examples
    --------
    >>> table = real_ginibre_table()
    >>> table.widths[:5], table.widths[-1]
    ((2, 3, 4, 5, 6), 2048)
    >>> s = table.at(300)
    >>> bool(s.p_above_1 > 0.9), s.source
    (True, 'finite-n Monte Carlo table (interpolated)')
    """
    doc = real_table_doc()
    return RealGinibreTable(
        probs=tuple(doc["probs"]),
        grid=tuple(doc["grid"]),
        held_out=tuple(doc["held_out"]),
        validation=doc.get("validation", {}),
        metadata=doc["metadata"],
    )


def gumbel_u(p):
    """The Gumbel variate u = -log(-log p) of a probability p."""
    with np.errstate(divide="ignore"):
        return -np.log(-np.log(p))


@dataclass(frozen=True)
class PAbove:
    """P(gain rho > 1) of the real Glorot law: ``value``, its Monte Carlo ``se``, and ``bound``.

    ``bound`` is None where the table measures the law at that radius. Beyond the levels it
    measures (its 1% / 99% quantiles, and its own P(rho > 1) point) the law is extrapolated and its
    tail value would be spurious digits (4e-15 for the half init): there ``bound`` is the text of
    what the table does establish ("< 0.01" or "> 0.99"), ``value`` is that bound and ``se`` None.
    """

    value: float
    se: float | None
    bound: str | None


def p_above(n: int, gain: float = 1.0) -> PAbove:
    """P(gain rho > 1) at width n, W real Glorot, with its SE (delta method: the density times the
    quantile's Monte Carlo SE at that level; the table's own SE at gain 1) or a bound (see :class:`PAbove`)."""
    t = real_quantiles(n)
    summary = real_ginibre_table().at(n)
    r = 1.0 / gain
    levels = np.exp(-np.exp(-t.u))  # the probability level of each node of the quantile function
    if r > t.r[-1]:
        top = round(float(1.0 - levels[-1]), 12)
        return PAbove(top, None, f"< {top:.2g}")
    if r < t.r[0]:
        bottom = round(float(1.0 - levels[0]), 12)
        return PAbove(bottom, None, f"> {bottom:.4g}" if bottom > 0.99 else f"> {bottom:.2g}")
    u = float(t.u_of_r(np.array([r]))[0])
    value = float(-np.expm1(-np.exp(-u)))
    if gain == 1.0 and summary.source == SOURCE_INTERPOLATED:
        return PAbove(value, summary.p_above_1_se, None)
    level = 1.0 - value
    quantile_se = float(np.interp(level, summary.probs, summary.quantiles_se))
    return PAbove(value, float(t.density(np.array([r]))[0]) * quantile_se, None)
