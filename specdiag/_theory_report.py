"""``theory`` as a library call: everything known about the spectral radius at width n (g_n, s_n,
the finite-n laws and the n -> infinity limits), as :class:`TheorySummary` per width and
:class:`TheoryReport` for a list of widths (the ``specdiag theory --format json`` document)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

from . import _theory as theory
from ._inits import LawMoments, finite_n_real
from ._resources import guard, theory_estimate
from ._results import Result, plain
from ._validation import probability, whole_number

__all__ = [
    "LawMoments",
    "LimitLaw",
    "CalibratedLaw",
    "FiniteNReal",
    "TheorySummary",
    "TheoryReport",
    "theory_summary",
    "theory_report",
]


@dataclass(frozen=True)
class CalibratedLaw(Result):
    """The calibrated divisor ``s`` (P(rho(W/s) <= 1) = coverage, complex Glorot) and the law of rho(W/s)."""

    s: float
    coverage: float
    mean: float
    std: float
    q05: float
    median: float
    q95: float
    p_above_1: float


@dataclass(frozen=True)
class LimitLaw(Result):
    """An n -> infinity limit law of the radius (a Gumbel law), labelled as the limit it is."""

    loc: float
    scale: float
    mean: float
    std: float
    p_above_1: float
    label: str

    @classmethod
    def of(cls, law, label: str) -> LimitLaw:
        return cls(law.kwds["loc"], law.kwds["scale"], float(law.mean()), float(law.std()), float(law.sf(1.0)), label)


@dataclass(frozen=True)
class FiniteNReal(Result):
    """The finite-n law of the real Glorot radius from specdiag's Monte Carlo table, with its SEs
    (:func:`specdiag._inits.finite_n_real`); ``ks_statistic``/``ks_pvalue`` when compared with
    radii (:func:`specdiag.compare_laws`), else absent from the document. Keys the table adds
    beyond these fields are kept in ``extra``."""

    mean: float
    std: float
    q05: float
    q95: float
    p_above_1: float
    se_mean: float
    source: str
    p_above_1_se: float | None = None
    p_above_1_bound: str | None = None
    gumbel_loc: float | None = None
    gumbel_loc_se: float | None = None
    gumbel_scale: float | None = None
    gumbel_scale_se: float | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    ks_statistic: float | None = None
    ks_pvalue: float | None = None

    @classmethod
    def at(cls, n: int, **ks: Any) -> FiniteNReal:
        table: dict[str, Any] = dict(finite_n_real(n))
        names = {f.name for f in dataclasses.fields(cls)}
        known = {k: v for k, v in table.items() if k in names}
        return cls(**known, extra={k: v for k, v in table.items() if k not in names}, **ks)

    def to_dict(self) -> dict:
        doc = super().to_dict()
        doc.update(doc.pop("extra"))
        for key in ("ks_statistic", "ks_pvalue"):
            value = doc.pop(key)
            if value is not None:
                doc[key] = value
        return doc


@dataclass(frozen=True)
class TheorySummary(Result):
    """Everything known at width n (one column of ``specdiag theory``).

    ``g_n``; the paper's ``s_n``, ``rider_location``, ``rider_scale``, the limit laws
    (``asymptotic``: "real" Rider-Sinclair, "complex" Rider) and the rescaled init's exact complex
    law (``exact_complex_rescaled``), all None with ``undefined_reason`` for n <= 163; Kostlan's
    exact complex law (``exact_complex``), the real Monte Carlo table (``finite_n_real``) and the
    calibrated divisor at ``coverage`` (``calibrated_complex``).
    """

    n: int
    g_n: float
    coverage: float
    s_n: float | None
    rider_location: float | None
    rider_scale: float | None
    asymptotic: dict[str, LimitLaw] | None
    exact_complex_rescaled: LawMoments | None
    undefined_reason: str | None
    exact_complex: LawMoments
    finite_n_real: FiniteNReal
    calibrated_complex: CalibratedLaw

    def to_dict(self) -> dict:
        doc = super().to_dict()
        if doc["undefined_reason"] is None:
            del doc["undefined_reason"]
        return doc


@dataclass(frozen=True)
class TheoryReport(Result):
    """:class:`TheorySummary` rows for several widths (``specdiag theory``)."""

    command: str
    rows: tuple[TheorySummary, ...]

    def to_dict(self) -> dict:
        return {"command": self.command, "rows": plain(list(self.rows))}


def theory_summary(n: int, *, coverage: float = 0.9) -> TheorySummary:
    """Everything known at width n: g_n, s_n, the finite-n laws (Kostlan's exact complex law, the
    real Monte Carlo table) and the n -> infinity limits (Rider, Rider-Sinclair), labelled as such.

    Parameters
    ----------
    n : int
        Width, at least 2.
    coverage : float
        Target P(rho <= 1) of the calibrated rescaling.

    Returns
    -------
    TheorySummary

    Examples
    --------
    >>> row = theory_summary(500)
    >>> round(row.s_n, 4), round(row.exact_complex.mean, 4)
    (1.0679, 1.0347)
    """
    from .laws import _numeric as laws  # noqa: PLC0415 (the laws' numerics, no scipy.stats: only when a law is evaluated)

    n = whole_number(n, "n", minimum=2)
    coverage = probability(coverage, "coverage")
    g = float(theory.g_n(n))
    exact = laws.kostlan(n)
    s_cal = float(exact.ppf(coverage))
    calibrated = CalibratedLaw(s_cal, coverage, **LawMoments.of(laws.kostlan(n, scale=1 / s_cal)).to_dict())
    common: dict[str, Any] = dict(
        n=n,
        g_n=g,
        coverage=coverage,
        exact_complex=LawMoments.of(exact),
        finite_n_real=FiniteNReal.at(n),
        calibrated_complex=calibrated,
    )
    if g <= 0:
        reason = f"g_n = {g:.4f} <= 0 (n <= {theory.LAST_UNDEFINED_N}): use --rescale calibrated"
        return TheorySummary(
            s_n=None,
            rider_location=None,
            rider_scale=None,
            asymptotic=None,
            exact_complex_rescaled=None,
            undefined_reason=reason,
            **common,
        )
    s_n = theory.paper_scale(n)
    asymptotic = {
        "real": LimitLaw.of(laws.rider_sinclair(n), "Rider-Sinclair limit, n -> inf"),
        "complex": LimitLaw.of(laws.rider(n), "Rider limit, n -> inf"),
    }
    return TheorySummary(
        s_n=s_n,
        rider_location=theory.rider_location(n),
        rider_scale=theory.rider_scale(n),
        asymptotic=asymptotic,
        exact_complex_rescaled=LawMoments.of(laws.kostlan(n, scale=1 / s_n)),
        undefined_reason=None,
        **common,
    )


def theory_report(n: int | Iterable[int], *, coverage: float = 0.9) -> TheoryReport:
    """:func:`theory_summary` for one width or several (``specdiag theory --n 256,500``).

    Every width is checked, and its cost estimated (Kostlan's exact law is O(n)), before the first
    row is computed.

    Examples
    --------
    >>> [row.n for row in theory_report([128, 500]).rows]
    [128, 500]
    """
    widths = [whole_number(w, "n", minimum=2) for w in ([n] if isinstance(n, int) else n)]
    coverage = probability(coverage, "coverage")
    for w in widths:
        guard(theory_estimate(w))
    return TheoryReport("theory", tuple(theory_summary(w, coverage=coverage) for w in widths))
