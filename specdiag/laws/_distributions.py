"""The radius laws as ``scipy.stats`` distributions, for Python users who ask for them.

Every law here is a SciPy distribution (an ``rv_continuous`` subclass or a frozen instance), so
``cdf``, ``sf``, ``ppf``, ``isf``, ``pdf``, ``mean``, ``std``, ``interval`` and ``rvs`` all work and
broadcast the SciPy way; SciPy's ``scale`` multiplies. The numbers come from the plain-numpy
numerics (:mod:`._kostlan`, :mod:`._real`, :mod:`._numeric`), which the commands use directly:
importing this module costs scipy.stats (about 0.8 s), so :mod:`specdiag.laws` loads it only
when one of these names is first used.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.stats._distn_infrastructure import _ShapeInfo

from . import _kostlan, _numeric, _real

__all__ = [
    "kostlan_gen",
    "kostlan",
    "real_ginibre_gen",
    "real_ginibre",
    "lru_ring_gen",
    "lru_ring",
    "uniform_diag",
    "uniform_disk",
    "rider",
    "rider_sinclair",
]


class kostlan_gen(stats.rv_continuous):
    r"""Exact law of the spectral radius of an n x n complex Ginibre (complex Glorot) matrix.

    W = (X + iY) / sqrt(2n), X, Y iid N(0, 1), so E|w_ij|^2 = 1/n. By Kostlan (1992),

    .. math:: P(\rho \le r) = \prod_{j=1}^{n} P(j, n r^2),

    with P the regularized lower incomplete gamma function. The shape ``n`` is the width (an
    integer >= 1). SciPy's ``scale`` multiplies: rho(gain * W) follows ``kostlan(n, scale=gain)``.
    Use the instance :data:`kostlan`.

    Examples
    --------
    >>> from specdiag.laws import kostlan
    >>> f"{kostlan(500).cdf(1.0):.4g}"          # P(rho <= 1) at width 500
    '2.257e-05'
    >>> [round(float(v), 6) for v in kostlan(500).ppf([0.05, 0.5, 0.95])]
    [1.017539, 1.033569, 1.055689]
    >>> round(float(kostlan(500, scale=0.5).median()), 6)   # radius of W / 2
    0.516785
    >>> f"{kostlan(2).sf(2.0):.6g}"
    '0.00335361'
    >>> kostlan.cdf([0.9, 1.0], [[64], [500]]).shape     # broadcasts over x and n
    (2, 2)
    """

    def _argcheck(self, n):
        return (n >= 1) & (n == np.round(n))

    def _shape_info(self):
        return [_ShapeInfo("n", True, (1, np.inf), (True, False))]

    def freeze(self, *args, **kwds):
        """The law at one width, validated: n an integer >= 1, scale a finite number > 0 (InputError)."""
        _numeric.kostlan(*args[:1], **{k: v for k, v in kwds.items() if k in ("n", "scale")})
        return super().freeze(*args, **kwds)

    def _logcdf(self, x, n):
        return _kostlan.by_width(_kostlan.logcdf, x, n, -np.inf, positive_only=True)

    def _cdf(self, x, n):
        return np.exp(self._logcdf(x, n))

    def _sf(self, x, n):
        return -np.expm1(self._logcdf(x, n))

    def _logsf(self, x, n):
        return _kostlan.log_sf_from_logcdf(self._logcdf(x, n))

    def _logpdf(self, x, n):
        return _kostlan.by_width(_kostlan.logpdf, x, n, -np.inf, positive_only=True)

    def _pdf(self, x, n):
        return np.exp(self._logpdf(x, n))

    def _ppf(self, q, n):
        return _kostlan.by_width(lambda qs, width: _kostlan.quantile(qs, width, upper=False), q, n)

    def _isf(self, q, n):
        return _kostlan.by_width(lambda qs, width: _kostlan.quantile(qs, width, upper=True), q, n)

    def _rvs(self, n, size=None, random_state=None):
        n = np.broadcast_to(np.asarray(n, dtype=float), size if size is not None else np.shape(n))
        u = random_state.random(n.shape)
        return _kostlan.by_width(_kostlan.draws, u, n)

    def _stats(self, n):
        n = np.asarray(n, dtype=float)
        moments = np.array([_kostlan.moments(int(w)) for w in n.ravel()]).reshape(n.shape + (4,))
        return moments[..., 0], moments[..., 1], moments[..., 2], moments[..., 3]


kostlan = kostlan_gen(a=0.0, name="kostlan", shapes="n")


def _by_width_real(func, x, n):
    """func(quantile model at width n, x_1d) for each distinct width (see :func:`._kostlan.by_width`)."""
    return _kostlan.by_width(lambda xs, width: func(_numeric.RealTable(n=width), xs), x, n)


class real_ginibre_gen(stats.rv_continuous):
    r"""Finite-n law of the spectral radius of real Glorot W (W_ij iid N(0, 1/n)), from the table.

    No closed form is known; this is the Monte Carlo table shipped with specdiag, interpolated in n
    (see :func:`real_ginibre`). Shape ``n``: the width, an integer >= 2. SciPy's ``scale``
    multiplies (the radius of gain * W). Valid for 2 <= n <= 2048; larger n are extrapolated.

    Examples
    --------
    >>> from specdiag.laws import real_ginibre_gen
    >>> law = real_ginibre_gen(a=0.0, name="real_ginibre")(64)
    >>> bool(1.0 < law.median() < 1.1)
    True
    """

    def _argcheck(self, n):
        return (n >= 2) & (n == np.round(n))

    def _shape_info(self):
        return [_ShapeInfo("n", True, (2, np.inf), (True, False))]

    def _ppf(self, q, n):
        return _by_width_real(lambda law, p: law._ppf(p), q, n)

    def _isf(self, q, n):
        return _by_width_real(lambda law, s: law._isf(s), q, n)

    def _cdf(self, x, n):
        return _by_width_real(lambda law, r: law._cdf(r), x, n)

    def _sf(self, x, n):
        return _by_width_real(lambda law, r: law._sf(r), x, n)

    def _pdf(self, x, n):
        return _by_width_real(lambda law, r: law._pdf(r), x, n)

    def _stats(self, n):
        n = np.asarray(n, dtype=float)
        vals = np.array([_real.real_moments(int(w)) for w in n.ravel()]).reshape(n.shape + (2,))
        return vals[..., 0], vals[..., 1], None, None


_real_ginibre = real_ginibre_gen(a=0.0, name="real_ginibre", shapes="n")


def real_ginibre(n: int, scale: float = 1.0):
    """Finite-n law of the spectral radius of real Glorot W (W_ij iid N(0, 1/n)) at width n.

    Real Gaussian matrices have no closed-form radius law; this is specdiag's Monte Carlo table
    (``specdiag/data/real_glorot_radius.json``, made by ``scripts/build_real_law.py`` with
    specdiag's own sweep: 80 to 20000 matrices per width at 29 widths 2..2048) turned into a
    distribution. Its quantile function is a cubic in the Gumbel variate u = -log(-log p) fitted by
    least squares to the modelled quantiles at p = 0.01..0.99 (smooth: its density has no wiggles
    from single noisy nodes), with Gumbel tails beyond them, and constrained to pass through the
    point (P(rho <= 1), 1) of the table's own model of P(rho > 1), so ``sf(1)`` is exactly the
    table's P(rho > 1) (one source for that number). The law's quantiles agree with the table's
    within 2 SE at every width checked (3.2 SE for one quantile at n = 2, whose law is the least
    Gumbel-like).

    The model in n (stored in the JSON; see :class:`specdiag.laws._real.RealModel`): every statistic relative to the
    exact complex (Kostlan) law at the same n, a weighted cubic smoothing spline in log n (chi^2
    per width about 1). Its error on held-out widths (7, 28, 112, 300, 900), in units of the
    combined Monte Carlo SE, is stored in the JSON (``validation``) and tested. Beyond n = 2048 the
    law is extrapolated with the Rider-Sinclair edge scaling (``source`` says so).

    Parameters
    ----------
    n : int
        Width, >= 2.
    scale : float
        Multiplies the radius (the law of rho(scale * W)).

    Returns
    -------
    scipy.stats frozen distribution
        ``cdf``, ``sf``, ``ppf``, ``isf``, ``pdf``, ``mean``, ``std``, ``rvs`` (inverse CDF).

    Examples
    --------
    >>> law = real_ginibre(128)
    >>> [round(float(v), 2) for v in law.ppf([0.05, 0.5, 0.95])]
    [1.0, 1.04, 1.11]
    >>> round(float(law.sf(1.0)), 2), round(float(kostlan(128).sf(1.0)), 2)   # P(rho > 1): real vs complex
    (0.95, 1.0)
    >>> from specdiag.laws import real_ginibre_table
    >>> real_ginibre_table().at(128).source
    'finite-n Monte Carlo table (interpolated)'
    """
    law = _numeric.real_ginibre(n, scale)
    return _real_ginibre(law.n, scale=law.gain)


class lru_ring_gen(stats.rv_continuous):
    r"""Law of rho for the LRU ring init: P(rho <= r) = ((r^2 - rmin^2) / (rmax^2 - rmin^2))^n.

    The largest of n iid moduli, each area-uniform on the ring rmin <= |lambda| <= rmax (Orvieto
    et al. 2023). Shapes ``n`` (integer >= 1), ``rmin``, ``rmax`` (0 <= rmin < rmax); support
    [rmin, rmax]. Use :func:`lru_ring` for a validated frozen law.

    Examples
    --------
    >>> from specdiag.laws import lru_ring_gen
    >>> law = lru_ring_gen(name="lru_ring")(4, 0.4, 0.9)
    >>> round(float(law.cdf(0.8)), 6), round(((0.8**2 - 0.4**2) / (0.9**2 - 0.4**2)) ** 4, 6)
    (0.29738, 0.29738)
    """

    def _argcheck(self, n, rmin, rmax):
        return (n >= 1) & (n == np.round(n)) & (rmin >= 0) & (rmax > rmin) & np.isfinite(rmax)

    def _shape_info(self):
        return [
            _ShapeInfo("n", True, (1, np.inf), (True, False)),
            _ShapeInfo("rmin", False, (0, np.inf), (True, False)),
            _ShapeInfo("rmax", False, (0, np.inf), (False, False)),
        ]

    def _get_support(self, n, rmin, rmax):
        return rmin, rmax

    def _cdf(self, x, n, rmin, rmax):
        return _numeric.lru_cdf(x, n, rmin, rmax)

    def _logcdf(self, x, n, rmin, rmax):
        return _numeric.lru_logcdf(x, n, rmin, rmax)

    def _sf(self, x, n, rmin, rmax):
        return -np.expm1(self._logcdf(x, n, rmin, rmax))

    def _pdf(self, x, n, rmin, rmax):
        return _numeric.lru_pdf(x, n, rmin, rmax)

    def _ppf(self, q, n, rmin, rmax):
        return _numeric.lru_ppf(q, n, rmin, rmax)

    def _isf(self, q, n, rmin, rmax):
        return _numeric.lru_isf(q, n, rmin, rmax)

    def _munp(self, k, n, rmin, rmax):
        return _numeric.lru_raw_moment(k, n, rmin, rmax)

    def _stats(self, n, rmin, rmax):
        return _numeric.lru_moments(n, rmin, rmax)


_lru_ring = lru_ring_gen(name="lru_ring", shapes="n, rmin, rmax")


def lru_ring(n: int, rmin: float = 0.4, rmax: float = 0.9):
    """Law of rho for the LRU init (Orvieto et al. 2023) at width n, ring rmin <= |lambda| <= rmax.

    Parameters
    ----------
    n : int
        Width, >= 2.
    rmin, rmax : float
        Ring radii, 0 <= rmin < rmax, finite (the LRU defaults 0.4 and 0.9).

    Returns
    -------
    scipy.stats frozen distribution
        P(rho <= r) = ((r^2 - rmin^2) / (rmax^2 - rmin^2))^n on [rmin, rmax].

    Examples
    --------
    >>> law = lru_ring(64)
    >>> round(float(law.cdf(0.89)), 6), round(float(law.ppf(0.5)), 6)
    (0.167431, 0.896102)
    """
    law = _numeric.lru_ring(n, rmin, rmax)
    return _lru_ring(law.n, law.rmin, law.rmax)


def uniform_diag(n: int):
    """Law of rho for the uniform-diag init: the largest of n iid U[0, 1] moduli, P(rho <= r) = r^n.

    Parameters
    ----------
    n : int
        Width, >= 2.

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.powerlaw(n)``.

    Examples
    --------
    >>> law = uniform_diag(100)
    >>> round(float(law.cdf(0.99)), 6), round(float(law.mean()), 6)
    (0.366032, 0.990099)
    """
    return stats.powerlaw(_numeric.uniform_diag(n).a)


def uniform_disk(n: int):
    """Law of rho when the n eigenvalues are uniform on the unit disk (modulus sqrt(U)): r^(2n).

    Parameters
    ----------
    n : int
        Width, >= 2.

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.powerlaw(2 n)``.

    Examples
    --------
    >>> round(float(uniform_disk(100).median()), 6)
    0.99654
    """
    return stats.powerlaw(_numeric.uniform_disk(n).a)


def rider(n: int):
    """Asymptotic law of rho for complex Glorot (Rider 2003): Gumbel(1 + sqrt(g_n/4n), 1/sqrt(4 n g_n)).

    Parameters
    ----------
    n : int
        Width, >= 164 (g_n <= 0 for n <= 163: InputError).

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.gumbel_r(loc, scale)``.

    Examples
    --------
    >>> law = rider(1000)
    >>> round(float(law.mean()), 6), round(float(law.std()), 6)
    (1.025669, 0.018477)
    """
    return _numeric.rider(n).distribution()


def rider_sinclair(n: int):
    """Asymptotic law of rho for real Glorot (Rider-Sinclair 2014): Rider's law shifted by -log(2) scale.

    Parameters
    ----------
    n : int
        Width, >= 164 (g_n <= 0 for n <= 163: InputError).

    Returns
    -------
    scipy.stats frozen distribution
        ``scipy.stats.gumbel_r(1 + sqrt(g_n/4n) - log(2) / sqrt(4 n g_n), 1/sqrt(4 n g_n))``.

    Examples
    --------
    >>> round(float(rider_sinclair(1000).median()), 6)
    1.012648
    """
    return _numeric.rider_sinclair(n).distribution()
