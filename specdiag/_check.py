"""Stability checks of a user's own recurrent matrices: radius, growth at a sequence length, verdict.

For each matrix W (or diagonal of eigenvalues) at sequence length t, in double precision:
- the spectral radius and the number of eigenvalues outside the unit circle;
- the spectral norm (largest singular value: transient growth even when rho < 1);
- log10 ||W^t||_F^2 / n, the mean-square gain of W^t on an isotropic input (E_x ||W^t x||^2 / E||x||^2);
- log10 of the predicted hidden-state growth E||h_t||^2 / (t sigma^2 n) = sum_{k<t} ||W^k||_F^2 / (t n)
  for iid inputs (1 for an orthogonal W; it explodes when rho > 1);
- where the radius sits against the Glorot law at the same width.

Dense matrices: one Schur factor T of W (LAPACK ?gees, no Schur vectors; real quasi-triangular for
a real W, all in real arithmetic) gives the eigenvalues and, by unitary invariance, the growth
(:func:`specdiag._schur.log_power_sums_real_schur`, ``log_power_sums_schur`` for complex W) and
the spectral norm (||W||_2 = ||T||_2); a defective or
nilpotent W falls back to repeated squaring, and W^t = 0 is reported as "decays to zero". Sparse
matrices (scipy.sparse .npz) above :data:`DENSE_LIMIT` use ARPACK for the radius, cross-checked.

Verdicts: fail when the radius exceeds ``max_radius`` by more than the roundoff of the stored dtype
(machine epsilon of float32/float16/bfloat16; 1e-9 for float64), or when the growth at
``seq_len`` exceeds ``max_growth`` (default :data:`DEFAULT_MAX_GROWTH`); warn within 1% (radius)
or 10x (growth) of a threshold.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import _discovery as discovery
from ._cells import Cell
from ._check_cells import CellCheck, check_cell
from ._errors import InputError
from ._linalg import log_power_sums_by_squaring, spectral_norm
from ._schur import log_power_sums_real_schur, log_power_sums_schur, real_schur, schur_spectral_norm, schur_triangular
from ._pool import process_map, resolve_workers
from ._results import Result, plain
from ._validation import positive_number, whole_number
from ._weights import TensorInfo, WeightsSource, memory_budget, open_weights, require_within_budget, source_from_mapping, stored_epsilon

__all__ = [
    "Thresholds", "TensorCheck", "CheckReport", "check_matrix", "check_tensors", "check_state_dict", "check_module",
    "check_file", "list_file", "overall_verdict", "glorot_context", "VERDICTS", "DEFAULT_MAX_GROWTH", "DENSE_LIMIT",
]

LN10 = math.log(10.0)
VERDICTS = ("ok", "warn", "fail")
#: a radius within this fraction below max_radius earns a warning
WARN_MARGIN = 0.01
#: relative tolerance for "above a threshold" in float64: an orthogonal W computes rho = 1 + 1e-15
ROUNDOFF = 1e-9
#: default limit on the hidden-state growth E||h_t||^2 / (t sigma^2 n) at t = seq_len (1 for orthogonal W)
DEFAULT_MAX_GROWTH = 1e3
#: sparse matrices up to this width are checked densely (exact); above it by ARPACK
DENSE_LIMIT = 4096
#: bytes of working memory per entry of an n x n dense check (complex Schur factor, eigenvectors, Grams)
DENSE_BYTES_PER_ENTRY = 160
#: probes of the stochastic growth estimate for large sparse matrices
SPARSE_PROBES = 16
#: total n^3 below which the default worker count is one (inline): a pool costs more than the work
SMALL_WORK = 512**3
#: log10 radius above which the Glorot context is "far above" without evaluating a law
FAR_ABOVE_LOG10 = 1.0


@dataclass(frozen=True)
class Thresholds(Result):
    """What fails a matrix: its radius above ``max_radius``, or the predicted hidden-state growth at
    t = ``seq_len`` above ``max_growth`` (None: growth not gated)."""

    max_radius: float = 1.0
    seq_len: int = 1000
    max_growth: float | None = DEFAULT_MAX_GROWTH

    def __post_init__(self):
        object.__setattr__(self, "max_radius", positive_number(self.max_radius, "max_radius"))
        object.__setattr__(self, "seq_len", whole_number(self.seq_len, "seq_len", maximum=10**12))
        if self.max_growth is not None:
            object.__setattr__(self, "max_growth", positive_number(self.max_growth, "max_growth"))


@dataclass(frozen=True)
class TensorCheck(Result):
    """The diagnosis of one matrix or diagonal (also readable as ``check["radius"]``).

    ``radius`` is None only when it overflows float64 (``log10_radius`` holds it);
    ``log10_power_gain`` is None when W^t = 0 (nilpotent or zero W: ``power_note`` says so).
    """

    name: str
    shape: list
    dtype: str
    compute_dtype: str
    diagonal: bool
    radius: float | None
    log10_radius: float | None
    outside_unit_circle: int
    spectral_norm: float | None
    seq_len: int
    log10_power_gain: float | None
    log10_growth: float | None
    growth_method: str
    tolerance: float
    glorot: dict | None
    verdict: str
    reasons: list
    rule: str = "matrix"
    rule_reason: str = ""
    source_tensor: str | None = None
    source_shape: list | None = None
    gate: str | None = None
    power_note: str | None = None
    cell: str = "linear"
    lyapunov: float | None = None
    lyapunov_se: float = 0.0
    regime: str = "exact"
    eigenvalues: Any = field(default=None, repr=False, compare=False)

    def __getitem__(self, key: str):
        return getattr(self, key)

    def to_dict(self) -> dict:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "eigenvalues"}


@dataclass(frozen=True)
class CheckReport(Result):
    """The diagnosis of every selected tensor of one source, what was skipped, and the overall verdict."""

    source: str
    thresholds: Thresholds
    tensors: list
    verdict: str
    elapsed_s: float
    kind: str = "matrices"
    container: str | None = None
    skipped: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    coverage: str = "complete"


@dataclass(frozen=True)
class UncheckedRow(Result):
    """A tensor that looks recurrent but could not be checked (a row of ``tensors`` with verdict
    "not checked"): it fails the run unless ``allow_unchecked``."""

    name: str
    shape: list
    dtype: str
    reasons: list
    verdict: str = "not checked"
    rule: str = "unchecked"
    radius: float | None = None
    cell: str | None = None

    def __getitem__(self, key: str):
        return getattr(self, key)


# --- numerics -------------------------------------------------------------------------------------


def _diagonal_log_sums(lam: np.ndarray, t: int) -> tuple[float, float]:
    """(log ||D^t||_F^2, log sum_{k<t} ||D^k||_F^2) for D = diag(lam), in log space (never overflows)."""
    from scipy import special  # noqa: PLC0415

    with np.errstate(divide="ignore"):
        log_mod2 = 2 * np.log(np.abs(lam))  # -inf for a zero eigenvalue
    power = float(special.logsumexp(t * log_mod2)) if np.any(np.isfinite(log_mod2)) else -math.inf
    terms = np.empty_like(log_mod2)
    zero = log_mod2 == -np.inf
    unit = log_mod2 == 0
    up = log_mod2 > 0
    down = ~(zero | unit | up)
    terms[zero] = 0.0  # sum_{k<t} 0^k = 1
    terms[unit] = math.log(t)
    lu = log_mod2[up]  # (r^t - 1)/(r - 1) = e^{(t-1) L} (1 - e^{-tL}) / (1 - e^{-L})
    terms[up] = (t - 1) * lu + np.log(-np.expm1(-t * lu)) - np.log(-np.expm1(-lu))
    ld = log_mod2[down]  # (1 - r^t)/(1 - r)
    terms[down] = np.log(-np.expm1(t * ld)) - np.log(-np.expm1(ld))
    return power, float(special.logsumexp(terms))


def _power_of_two_scale(a) -> float:
    """A power of two near max|a| (dividing by it is exact): 1.0 for a zero matrix."""
    top = float(abs(a).max()) if a.size else 0.0
    if not top > 0:
        return 1.0
    return math.ldexp(1.0, math.frexp(top)[1])


def _dense_numbers(w: np.ndarray, t: int) -> dict:
    """Eigenvalues, log radius, spectral norm and log power sums of a dense W, scaled to avoid overflow.

    A real W stays in real arithmetic: the real quasi-triangular Schur factor T of W / scale gives
    the eigenvalues, the growth (:func:`specdiag._schur.log_power_sums_real_schur`) and the
    spectral norm (||W||_2 = ||T||_2, Lanczos on triangular products); a complex W uses the
    complex Schur factor. A defective or nilpotent W falls back to repeated squaring.
    """
    n = w.shape[0]
    scale = _power_of_two_scale(w)
    log_scale = math.log(scale)
    if not np.any(w):
        lam = np.zeros(n, dtype=np.complex128)
        return {"lam": lam, "log_radius": -math.inf, "norm": 0.0, "log_power": -math.inf, "log_sum": math.log(n), "method": "exact (zero matrix)"}
    method = "Schur factor (no eigenvectors of W)"
    if np.iscomplexobj(w):
        ws = w / scale
        tri = schur_triangular(ws)
        lam = np.diagonal(tri).copy()
        result = log_power_sums_schur(tri, [t], log_scale=log_scale)
        del tri
        norm = spectral_norm(ws)
    else:
        scaled = np.empty(w.shape, dtype=np.float64, order="F")  # W / scale (a power of two: exact), Fortran order for LAPACK
        np.divide(w, scale, out=scaled)
        tri, lam = real_schur(scaled, overwrite=True)
        del scaled
        result = log_power_sums_real_schur(tri, lam, [t], log_scale=log_scale)
        norm = schur_spectral_norm(tri)
        del tri
        method = "real Schur factor (no eigenvectors of W)"
        ws = None
    if result is None:
        ws = w / scale if ws is None else ws
        result = log_power_sums_by_squaring(ws, [t], log_scale=log_scale)
        method = "repeated squaring (defective or nilpotent W)"
    rho = float(np.abs(lam).max())
    return {
        "lam": lam,
        "lam_scale": scale,
        "log_radius": (math.log(rho) + log_scale) if rho > 0 else -math.inf,
        "norm": norm * scale,
        "log_power": float(result[0][0]),
        "log_sum": float(result[1][0]),
        "method": method,
    }


def _sparse_numbers(m, t: int) -> dict:
    """Radius by ARPACK (cross-checked by a second, larger Krylov run), norm by svds, growth by probes."""
    from scipy.sparse.linalg import eigs, svds  # noqa: PLC0415

    n = m.shape[0]
    rng = np.random.default_rng(0)
    m = m.astype(np.complex128 if np.iscomplexobj(m.data) else np.float64)
    radii = []
    from scipy.sparse.linalg import ArpackNoConvergence  # noqa: PLC0415

    converged = True
    for k in (6, 16):
        try:
            vals = eigs(m, k=min(k, n - 2), which="LM", return_eigenvectors=False, tol=1e-12, v0=rng.standard_normal(n), maxiter=20 * n)
        except ArpackNoConvergence as exc:  # keep what converged, and say so
            converged = False
            vals = exc.eigenvalues if len(exc.eigenvalues) else np.array([np.nan])
        radii.append(float(np.nanmax(np.abs(vals))) if np.any(np.isfinite(vals)) else 0.0)
    rho = max(radii)
    agree = abs(radii[0] - radii[1]) <= 1e-8 * max(rho, 1e-300)
    norm = float(svds(m, k=1, return_singular_vectors=False, random_state=0)[0])
    log_power = log_sum = None
    method = f"ARPACK radius (k = 6 and 16, {'agree' if agree else 'disagree: the larger is reported'}{'' if converged else '; ARPACK did not fully converge'})"
    if t * m.nnz * SPARSE_PROBES <= 2e10:
        x = rng.standard_normal((n, SPARSE_PROBES))
        log_norm, terms = 0.0, [math.log(n)]  # k = 0: ||I||_F^2 = n
        for _ in range(1, t + 1):
            x = m @ x
            size = float(np.linalg.norm(x))
            if size == 0:
                log_norm = -math.inf
                break
            log_norm += math.log(size)
            x /= size
            terms.append(2 * log_norm - math.log(SPARSE_PROBES))
        log_power = terms.pop() if len(terms) > t else -math.inf
        from scipy.special import logsumexp  # noqa: PLC0415

        log_sum = float(logsumexp(terms[:t]))
        method += f"; growth estimated with {SPARSE_PROBES} random probes (stochastic, about 25% relative error)"
    else:
        method += "; growth not computed (seq_len x nnz too large for the probe estimate)"
    return {"lam": vals, "log_radius": math.log(rho) if rho > 0 else -math.inf, "norm": norm, "log_power": log_power, "log_sum": log_sum, "method": method, "radius_only": True}


# --- Glorot context -------------------------------------------------------------------------------


def glorot_context(radius: float | None, n: int, field_name: str = "complex") -> dict | None:
    """Where a radius sits against Glorot at width n.

    A complex W is compared with Kostlan's exact law; a real W with the finite-n real law
    (``laws.real_ginibre``) when it is available, else with Kostlan's law (real Glorot radii follow
    it closely: slightly smaller mean, longer right tail). Radii far above 1 (over 10) are "far
    above" without evaluating a law.
    """
    if n < 2:
        return None
    from .laws import _numeric as laws  # noqa: PLC0415 (the laws' numerics, no scipy.stats: only when a context is asked for)

    def evaluate(law):
        p_above = float(law.sf(1.0))
        if radius is None or radius > 10**FAR_ABOVE_LOG10:
            return p_above, 1.0
        value = float(law.cdf(radius))
        return p_above, value if math.isfinite(value) else (1.0 if radius > 1 else 0.0)

    source = "Kostlan exact law (complex Glorot)"
    numbers = None
    if field_name == "real":
        try:
            numbers = evaluate(laws.real_ginibre(n))
            source = "finite-n real Glorot law (Monte Carlo table)"
        except Exception:  # not landed, table missing, or n outside it: the complex law, said so
            source = "Kostlan exact law (complex Glorot; the real-law table is not available)"
    if numbers is None:
        numbers = evaluate(laws.kostlan(n))
    p_above_1, percentile = numbers
    where = "typical of" if 0.05 <= percentile <= 0.95 else ("below" if percentile < 0.05 else "above")
    shown = "overflows float64" if radius is None else f"{radius:.4f}"
    text = f"radius {shown}: {where} Glorot at n = {n} (percentile {100 * percentile:.1f}; Glorot P(rho > 1) = {p_above_1:.2f}; {source})"
    return {"percentile": percentile, "glorot_p_above_1": p_above_1, "source": source, "text": text}


# --- one matrix -----------------------------------------------------------------------------------


def check_matrix(
    name: str,
    a,
    thresholds: Thresholds | None = None,
    *,
    stored_dtype: str | None = None,
    rule: str = "matrix",
    rule_reason: str = "",
    source_tensor: str | None = None,
    source_shape: list | None = None,
    gate: str | None = None,
    keep_eigenvalues: bool = False,
) -> TensorCheck:
    """The full diagnosis of one matrix (2-D, dense or scipy.sparse) or diagonal (1-D eigenvalues).

    Parameters
    ----------
    name : str
        Shown in the report.
    a : array_like or scipy.sparse matrix
        A square matrix or a 1-D vector of eigenvalues; finite entries.
    thresholds : Thresholds, optional
        Default ``Thresholds()``.
    stored_dtype : str, optional
        The dtype the weights were stored in (sets the roundoff tolerance); default ``a``'s dtype.
    rule, rule_reason, source_tensor, source_shape, gate
        Provenance, printed with the result.
    keep_eigenvalues : bool
        Keep the eigenvalues on the result (for plots; never in ``to_dict()``).

    Returns
    -------
    TensorCheck
    """
    thresholds = thresholds or Thresholds()
    t = thresholds.seq_len
    sparse = hasattr(a, "tocsr") and not isinstance(a, np.ndarray)
    if not sparse:
        a = np.asarray(a)
        stored_dtype = stored_dtype or a.dtype.name
        a = discovery._upcast(name, a)
    stored_dtype = stored_dtype or str(a.dtype)
    diagonal = not sparse and a.ndim == 1
    if not sparse and not (diagonal or (a.ndim == 2 and a.shape[0] == a.shape[1] and a.shape[0] >= 1)):
        raise InputError(f"tensor {name!r} has shape {tuple(a.shape)}: need a square 2-D matrix or a 1-D vector of eigenvalues")
    n = a.shape[0]
    field_name = "complex" if np.iscomplexobj(a.data if sparse else a) else "real"
    if diagonal:
        lam = a.astype(np.complex128)
        log_power, log_sum = _diagonal_log_sums(lam, t)
        moduli = np.abs(lam)
        rho = float(moduli.max())
        numbers = {"lam": lam, "log_radius": math.log(rho) if rho > 0 else -math.inf, "norm": rho, "log_power": log_power, "log_sum": log_sum, "method": "exact (diagonal)"}
    elif sparse and n > DENSE_LIMIT:
        numbers = _sparse_numbers(a, t)
    else:
        numbers = _dense_numbers(np.asarray(a.toarray()) if sparse else a, t)
    log_radius = numbers["log_radius"]
    radius = math.exp(log_radius) if log_radius < 709 else None
    log10_radius = log_radius / LN10 if math.isfinite(log_radius) else None
    tolerance = max(ROUNDOFF, stored_epsilon(stored_dtype))
    lam = numbers["lam"]
    lam_scale = numbers.get("lam_scale", 1.0)
    with np.errstate(divide="ignore", over="ignore"):
        outside = int(np.sum(np.log(np.abs(lam)) + math.log(lam_scale) > math.log1p(tolerance)))
        lam = lam * lam_scale
    log_power, log_sum = numbers["log_power"], numbers["log_sum"]
    log10_power = (log_power - math.log(n)) / LN10 if log_power is not None and math.isfinite(log_power) else None
    log10_growth = (log_sum - math.log(t * n)) / LN10 if log_sum is not None else None
    power_note = "W^t = 0: decays to zero (nilpotent or zero W)" if log_power is not None and log_power == -math.inf else None
    norm = numbers["norm"]
    norm = norm if norm is not None and math.isfinite(norm) else None
    reasons, warnings = [], []
    limit = thresholds.max_radius
    shown = f"{radius:.6g}" if radius is not None else f"10^{log10_radius:.1f} (overflows float64)"
    if log_radius > math.log(limit) + math.log1p(tolerance):
        reasons.append(f"radius {shown} > max_radius {limit:g}")
    elif log_radius > math.log((1 - WARN_MARGIN) * limit):
        warnings.append(f"radius {shown} within {WARN_MARGIN:.0%} of max_radius {limit:g}")
    if thresholds.max_growth is not None and log10_growth is not None:
        growth_limit = math.log10(thresholds.max_growth)
        if log10_growth > growth_limit:
            reasons.append(f"hidden-state growth 10^{log10_growth:.2f} at t = {t} > max_growth {thresholds.max_growth:g}")
        elif log10_growth > growth_limit - 1:
            warnings.append(f"hidden-state growth 10^{log10_growth:.2f} at t = {t} within 10x of max_growth {thresholds.max_growth:g}")
    verdict = "fail" if reasons else ("warn" if warnings else "ok")
    return TensorCheck(
        name=name,
        shape=list(a.shape),
        dtype=str(stored_dtype),
        compute_dtype="complex128" if field_name == "complex" or diagonal else "float64",
        diagonal=diagonal,
        radius=radius,
        log10_radius=log10_radius,
        outside_unit_circle=outside,
        spectral_norm=norm,
        seq_len=t,
        log10_power_gain=log10_power,
        log10_growth=log10_growth,
        growth_method=numbers["method"],
        tolerance=tolerance,
        glorot=None if diagonal else glorot_context(radius, n, field_name),
        verdict=verdict,
        reasons=reasons + warnings,
        rule=rule,
        rule_reason=rule_reason,
        source_tensor=source_tensor,
        source_shape=source_shape,
        gate=gate,
        power_note=power_note,
        lyapunov=log_radius if math.isfinite(log_radius) else None,
        eigenvalues=lam if keep_eigenvalues else None,
    )


def overall_verdict(results) -> str:
    """The worst verdict of ``results`` (ok < warn < fail)."""
    return max((r["verdict"] for r in results), key=VERDICTS.index, default="ok")


# --- many tensors ---------------------------------------------------------------------------------


def _check_item(item) -> TensorCheck | CellCheck:
    name, array, thresholds, kwargs = item
    if isinstance(array, Cell):
        cell_kwargs = {k: v for k, v in kwargs.items() if k not in ("gate", "source_shape")}
        return check_cell(name, array, seq_len=thresholds.seq_len, max_growth=thresholds.max_growth, **cell_kwargs)
    kwargs = {k: v for k, v in kwargs.items() if k not in ("input_scale", "seed", "direction")}
    return check_matrix(name, array, thresholds, **kwargs)


def _work(a) -> float:
    """Rough cost of checking ``a`` in units of n^3 (a cell: about 2000 steps of its w_hh product)."""
    if isinstance(a, Cell):
        return 2000.0 * 16 * a.w_hh.shape[0] * a.w_hh.shape[1] + float(a.state_size) ** 3
    return float(np.shape(a)[0]) ** 3


def _run(items: list, thresholds: Thresholds, workers) -> list:
    if workers is None and sum(_work(a) for _, a, _ in items) < SMALL_WORK:
        workers = 1  # starting processes would cost more than the work
    results: list = [None] * len(items)
    for i, result in process_map(_check_item, [(name, a, thresholds, kw) for name, a, kw in items], workers=workers):
        results[i] = result
    return results


def check_tensors(tensors: Mapping, thresholds: Thresholds | None = None, *, workers: int | None = None, source: str = "<tensors>", keep_eigenvalues: bool = False) -> CheckReport:
    """Diagnose each tensor of a name -> square matrix or 1-D diagonal mapping as given (no name rules).

    Parameters
    ----------
    tensors : Mapping
        name -> array (or scipy.sparse matrix).
    thresholds : Thresholds, optional
    workers : int, optional
        Processes (default: every core), one BLAS thread each.
    source : str
        Label of the report.
    keep_eigenvalues : bool
        Keep eigenvalues on each result (for plots).

    Returns
    -------
    CheckReport
    """
    thresholds = thresholds or Thresholds()
    resolve_workers(workers)
    start = time.perf_counter()
    items = [(name, a, {"keep_eigenvalues": keep_eigenvalues}) for name, a in tensors.items()]
    results = _run(items, thresholds, workers)
    return CheckReport(source, thresholds, results, overall_verdict(results), time.perf_counter() - start)


def _needed_bytes(entry, info: TensorInfo) -> int:
    """Working memory of checking ``entry`` (stored tensor + computation), for the memory budget."""
    if entry.layout in ("lru", "a_log", "s4d", "eigenvalues"):
        return info.nbytes + 64 * max(info.entries, 1)
    if entry.layout == "sparse":
        n = info.shape[0]
        if n <= DENSE_LIMIT:
            return info.nbytes + DENSE_BYTES_PER_ENTRY * n * n
        return 3 * info.nbytes + 16 * n * (SPARSE_PROBES + 64)
    if entry.layout == "cell":
        state = 2 * max(info.shape)  # an LSTM's (h, c), at most
        return 4 * 8 * max(info.entries, 1) + DENSE_BYTES_PER_ENTRY * state * state
    h = info.shape[1] if entry.layout == "gates_rows" else info.shape[0]
    return info.nbytes + DENSE_BYTES_PER_ENTRY * h * h


@dataclass(frozen=True)
class Selection:
    """What to check in a source and how: the name-rule options of :func:`check_file`, gathered."""

    keys: list | None = None
    model: str = "auto"
    param: str = "auto"
    diagonal: bool = False
    layout: str | None = None
    biases: list | None = None
    gates: list | None = None

    def plan(self, source: WeightsSource, *, require: bool = True) -> discovery.Plan:
        """The plan of ``source`` under this selection (:func:`specdiag._discovery.plan_checks`)."""
        return discovery.plan_checks(source.infos, keys=self.keys, model=self.model, param=self.param, diagonal=self.diagonal,
                                     layout=self.layout, biases=self.biases, gates=self.gates, hints=source.hints,
                                     unreadable=source.unchecked, require=require)


def _items(source: WeightsSource, plan: discovery.Plan, *, keep_eigenvalues: bool, input_scale: float, seed: int) -> list:
    """(row name, matrix or Cell, provenance) per planned row, data read once per tensor."""
    cache: dict = {}

    def read(name):
        if name not in cache:
            cache[name] = source.read(name)
        return cache[name]

    items = []
    for entry in plan.planned:
        info = source.infos[entry.tensor]
        kwargs = {
            "stored_dtype": info.dtype, "rule": entry.rule, "rule_reason": entry.reason, "source_tensor": entry.tensor,
            "source_shape": list(info.shape), "gate": entry.gate, "keep_eigenvalues": keep_eigenvalues,
            "input_scale": input_scale, "seed": seed, "direction": entry.cell.direction if entry.cell else None,
        }
        items.append((entry.name, discovery.materialize(entry, read), kwargs))
    cache.clear()
    return items


def _check_source(source: WeightsSource, thresholds: Thresholds, selection: Selection, *, workers, max_memory, keep_eigenvalues: bool,
                  input_scale: float = 1.0, seed: int = 0, allow_unchecked: bool = False) -> CheckReport:
    start = time.perf_counter()
    plan = selection.plan(source)
    budget = memory_budget(max_memory)
    source.max_memory = budget
    for entry in plan.planned:
        info = source.infos[entry.tensor]
        require_within_budget(info, _needed_bytes(entry, info), budget, what="checking it")
    items = _items(source, plan, keep_eigenvalues=keep_eigenvalues, input_scale=input_scale, seed=seed)
    results = _run(items, thresholds, workers)
    unchecked = [UncheckedRow(u.name, u.shape, u.dtype, [u.reason]) for u in plan.unchecked]
    verdict = overall_verdict(results)
    results = results + unchecked
    notes = list(source.notes) + list(plan.notes)
    coverage = "complete" if not unchecked else ("incomplete (allowed)" if allow_unchecked else "incomplete")
    if unchecked and not allow_unchecked:
        verdict = "fail"
        notes.append(f"{len(unchecked)} recurrent-looking tensor(s) not checked: the run fails unless allow_unchecked")
    return CheckReport(
        source.path, thresholds, results, verdict, time.perf_counter() - start,
        kind=source.kind, container=source.container, skipped=list(plan.skipped), notes=notes, coverage=coverage,
    )


def check_file(
    path: str | Path,
    *,
    keys: list[str] | None = None,
    model: str = "auto",
    param: str = "auto",
    diagonal: bool = False,
    layout: str | None = None,
    biases: list[str] | None = None,
    gates: list[str] | None = None,
    state_dict: str | None = None,
    max_radius: float = 1.0,
    seq_len: int = 1000,
    max_growth: float | None = DEFAULT_MAX_GROWTH,
    input_scale: float = 1.0,
    seed: int = 0,
    allow_unchecked: bool = False,
    workers: int | None = None,
    max_memory: int | str | None = None,
    keep_eigenvalues: bool = False,
) -> CheckReport:
    """Read a weights file's headers, select its recurrent tensors by the name rules, diagnose each.

    Linear recurrences (square matrices, diagonals) are gated on their radius and hidden-state
    growth; nonlinear cells (RNN, GRU, LSTM) on the growth exp(lambda seq_len) of their maximal
    Lyapunov exponent (:mod:`specdiag._check_cells`). A tensor that looks recurrent but cannot be
    checked is a row with verdict "not checked" and fails the run unless ``allow_unchecked``.

    Parameters
    ----------
    path : str or Path
        .npy, .npz (scipy.sparse too), .safetensors or a sharded directory, .pt/.pth/.ckpt/.bin
        (needs torch), .csv/.txt.
    keys : list of str, optional
        Tensor names or globs to check, overriding the name rules.
    model : str
        Rule family: auto, torch, keras, flax, ssm, reservoir, generic (:data:`specdiag._discovery.MODELS`).
    param : str
        auto, lru, a_log or eigenvalues (:data:`specdiag._discovery.PARAMS`).
    diagonal : bool
        1-D tensors selected by ``keys`` (or a file's only tensor) are eigenvalues.
    layout : str, optional
        Declare the keyed tensors' cell (lstm, gru, rnn, rnn-relu, keras-lstm, keras-gru, keras-rnn, linear).
    biases : list of str, optional
        With ``layout``: input bias then hidden bias, when not found by name.
    gates : list of str, optional
        Gate letters whose blocks are also checked as plain matrices (r, z, n; i, f, g, o).
    state_dict : str, optional
        Which state dict of a nested checkpoint (``model``, ``ema``, ``a.b``); default the usual one.
    max_radius, seq_len, max_growth
        See :class:`Thresholds`; ``max_growth=None`` turns the growth gate off.
    input_scale : float
        Standard deviation of the input driving the cells (driven regime).
    seed : int
        Seeds the cells' Lyapunov estimates.
    allow_unchecked : bool
        Recurrent-looking tensors that cannot be checked do not fail the run.
    workers : int, optional
        Processes (default: every core), one BLAS thread each.
    max_memory : int or str, optional
        Memory budget (bytes, or "2G"); default half the available memory. A selected tensor whose
        check needs more is refused before its data are read.
    keep_eigenvalues : bool
        Keep eigenvalues on each result (for plots).

    Returns
    -------
    CheckReport
    """
    thresholds = Thresholds(max_radius=max_radius, seq_len=seq_len, max_growth=max_growth)
    input_scale = positive_number(input_scale, "input_scale")
    resolve_workers(workers)
    memory_budget(max_memory)
    source = open_weights(path, container=state_dict)
    selection = Selection(keys, model, param, diagonal, layout, biases, gates)
    return _check_source(source, thresholds, selection, workers=workers, max_memory=max_memory, keep_eigenvalues=keep_eigenvalues,
                         input_scale=input_scale, seed=seed, allow_unchecked=allow_unchecked)


def list_file(path: str | Path, *, keys=None, model: str = "auto", param: str = "auto", diagonal: bool = False, layout: str | None = None,
              biases: list | None = None, gates: list | None = None, state_dict: str | None = None) -> tuple[WeightsSource, discovery.Plan]:
    """Dry run: the source's headers and the plan (what would be checked and why), no data read.

    The plan is the one :func:`check_file` follows, and it fails the same way (nothing to check).
    """
    source = open_weights(path, container=state_dict)
    return source, Selection(keys, model, param, diagonal, layout, biases, gates).plan(source)


def check_state_dict(state_dict: Mapping, *, keys=None, model: str = "auto", param: str = "auto", diagonal: bool = False, layout: str | None = None,
                     biases: list | None = None, gates: list | None = None, container: str | None = None, thresholds: Thresholds | None = None,
                     max_radius: float | None = None, seq_len: int | None = None, max_growth: float | None | str = "default",
                     input_scale: float = 1.0, seed: int = 0, allow_unchecked: bool = False,
                     workers: int | None = None, max_memory=None, keep_eigenvalues: bool = False, label: str = "<state_dict>") -> CheckReport:
    """Check a state dict (name -> torch tensor or NumPy array; nested checkpoints searched) by the name rules.

    Parameters
    ----------
    state_dict : Mapping
        ``module.state_dict()``, a checkpoint dict, or name -> array.
    keys, model, param, diagonal, layout, biases, gates, max_memory, keep_eigenvalues, input_scale, seed, allow_unchecked
        As in :func:`check_file`.
    container : str, optional
        Which state dict of a nested checkpoint (``check_file``'s ``state_dict``).
    thresholds : Thresholds, optional
        The thresholds as one object; or give ``max_radius``, ``seq_len``, ``max_growth`` flat.
    workers : int, optional
        Processes (default: every core, capped; small work runs inline).
    label : str
        Name of the source in the report.

    Returns
    -------
    CheckReport
    """
    thresholds = _thresholds(thresholds, max_radius, seq_len, max_growth)
    resolve_workers(workers)
    selection = Selection(keys, model, param, diagonal, layout, biases, gates)
    return _check_source(source_from_mapping(state_dict, label, container=container), thresholds, selection, workers=workers, max_memory=max_memory,
                         keep_eigenvalues=keep_eigenvalues, input_scale=positive_number(input_scale, "input_scale"), seed=seed,
                         allow_unchecked=allow_unchecked)


def _thresholds(thresholds: Thresholds | None, max_radius, seq_len, max_growth) -> Thresholds:
    """``thresholds``, or the flat keywords (``max_growth="default"`` is :data:`DEFAULT_MAX_GROWTH`)."""
    base = thresholds or Thresholds()
    return Thresholds(
        max_radius=base.max_radius if max_radius is None else max_radius,
        seq_len=base.seq_len if seq_len is None else seq_len,
        max_growth=base.max_growth if isinstance(max_growth, str) and max_growth == "default" else max_growth,
    )


def check_module(module, **kwargs) -> CheckReport:
    """Check a ``torch.nn.Module``'s recurrent weights (parametrized weights are materialized first).

    Parameters
    ----------
    module : torch.nn.Module
    **kwargs
        As in :func:`check_state_dict`.

    Returns
    -------
    CheckReport
    """
    try:
        import torch  # noqa: PLC0415
        from torch.nn.utils import parametrize  # noqa: PLC0415
    except ImportError:
        raise InputError("check_module needs PyTorch (pip install torch)", param="module") from None
    if not isinstance(module, torch.nn.Module):
        raise InputError(f"module must be a torch.nn.Module, got {type(module).__name__}", param="module")
    state = {}
    with torch.no_grad():
        for prefix, sub in module.named_modules():
            dotted = f"{prefix}." if prefix else ""
            for name, param_tensor in sub.named_parameters(recurse=False):
                state[dotted + name] = param_tensor
            if parametrize.is_parametrized(sub):
                for name in sub.parametrizations:
                    state[dotted + name] = getattr(sub, name).detach()  # the weight the module uses
        state = {k: v for k, v in state.items() if ".parametrizations." not in f".{k}"}
    return check_state_dict(state, label=kwargs.pop("label", type(module).__name__), **kwargs)
