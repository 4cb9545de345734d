"""Laws of the spectral radius rho(W) = max_i |lambda_i(W)| (docs/science.md sections 2, 7).

Every law here is a SciPy distribution (an ``rv_continuous`` subclass or a frozen instance), so
``cdf``, ``sf``, ``ppf``, ``isf``, ``pdf``, ``mean``, ``std``, ``interval`` and ``rvs`` all work
and broadcast the SciPy way. SciPy's ``scale`` multiplies: the radius of ``gain * W`` follows
``kostlan(n, scale=gain)``.

Exact laws
    :data:`kostlan` (complex Glorot, E|w_ij|^2 = 1/n): Kostlan (1992), "On the spectra of Gaussian
    matrices": {n |lambda_j|^2} has the law of independent Gamma(j, 1), j = 1..n, so
    P(rho <= r) = prod_{j=1..n} P(j, n r^2), P the regularized lower incomplete gamma.
    :func:`uniform_diag`, :func:`uniform_disk`, :func:`lru_ring` (diagonal inits): rho is the
    largest of n iid moduli, so P(rho <= r) = F(r)^n with F the law of one modulus; the LRU ring is
    the init of Orvieto et al. (2023), "Resurrecting recurrent neural networks for long sequences".
Limit laws
    :func:`rider` (complex): Rider (2003), "A limit theorem at the edge of a non-Hermitian random
    matrix ensemble": rho = 1 + sqrt(g_n/4n) + G / sqrt(4 n g_n), P(G <= x) -> exp(-e^{-x}).
    :func:`rider_sinclair` (real): Rider and Sinclair (2014), "Extremal laws for the real Ginibre
    ensemble": same centring and scale, limit exp(-(1/2) e^{-x}), a Gumbel law with location -log 2.
    Both need g_n = log(n/2 pi) - 2 log log n > 0, i.e. n >= 164.
Finite-n real law
    :func:`real_ginibre` (real Glorot, W_ij ~ N(0, 1/n)) has no closed form: it is a Monte Carlo
    table shipped as package data (``specdiag/data/real_glorot_radius.json``, made by
    ``scripts/build_real_law.py``) with standard errors, at widths 2..2048, interpolated between
    widths by smoothing splines in log n relative to Kostlan's exact complex law; beyond 2048 the
    law is extrapolated with the Rider-Sinclair edge scaling. :func:`real_ginibre_table` gives the
    table itself and its summaries with SEs.
Numbers without scipy.stats
    :func:`kostlan_summary` and :func:`real_ginibre_table` compute in plain numpy and
    scipy.special: what the ``specdiag`` commands print. The distributions load scipy.stats (about
    0.8 s) on first use of one of their names.

Layout: :mod:`._kostlan` (Kostlan numerics), :mod:`._real` (the real table and its model),
:mod:`._numeric` (frozen laws in plain numpy), :mod:`._distributions` (the SciPy classes).
"""

from __future__ import annotations

import importlib

from ._kostlan import kostlan_rvs_gamma
from ._numeric import kostlan as _kostlan_law
from ._real import SOURCE_EXTRAPOLATED, SOURCE_INTERPOLATED, RealGinibreSummary, RealGinibreTable, real_ginibre_table

__all__ = [
    "kostlan_gen",
    "kostlan",
    "kostlan_rvs_gamma",
    "kostlan_summary",
    "lru_ring_gen",
    "lru_ring",
    "uniform_diag",
    "uniform_disk",
    "rider",
    "rider_sinclair",
    "real_ginibre_gen",
    "real_ginibre",
    "real_ginibre_table",
    "RealGinibreSummary",
    "RealGinibreTable",
    "SOURCE_INTERPOLATED",
    "SOURCE_EXTRAPOLATED",
]

#: the names that are scipy.stats objects: loaded from ._distributions on first use (PEP 562)
_DISTRIBUTIONS = (
    "kostlan_gen",
    "kostlan",
    "lru_ring_gen",
    "lru_ring",
    "uniform_diag",
    "uniform_disk",
    "rider",
    "rider_sinclair",
    "real_ginibre_gen",
    "real_ginibre",
)


def __getattr__(name: str):
    if name in _DISTRIBUTIONS:
        value = getattr(importlib.import_module(f"{__name__}._distributions"), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def kostlan_summary(n: int, scale: float = 1.0) -> dict:
    """Mean, sd, 5/50/95% quantiles and P(rho > 1) of Kostlan's exact law at width n, times ``scale``.

    The numbers of ``kostlan(n, scale=scale)`` without scipy.stats (plain numpy and scipy.special).

    Examples
    --------
    >>> s = kostlan_summary(500)
    >>> round(s["mean"], 4), round(s["median"], 6), f"{1 - s['p_above_1']:.4g}"
    (1.0347, 1.033569, '2.257e-05')
    """
    return _kostlan_law(n, scale).summary()
