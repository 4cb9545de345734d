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
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _discovery as discovery
from ._errors import InputError
from ._linalg import log_power_sums_by_squaring, spectral_norm
from ._results import Result, plain
from ._schur import log_power_sums_real_schur, log_power_sums_schur, real_schur, schur_spectral_norm, schur_triangular
from ._special import logsumexp
from ._validation import positive_number, whole_number
from ._weights import stored_epsilon

__all__ = [
    "Thresholds",
    "TensorCheck",
    "check_matrix",
    "glorot_context",
    "VERDICTS",
    "DEFAULT_MAX_GROWTH",
    "DENSE_LIMIT",
    "DENSE_BYTES_PER_ENTRY",
    "SPARSE_PROBES",
    "SMALL_WORK",
    "LN10",
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


# --- numerics -------------------------------------------------------------------------------------


def _diagonal_log_sums(lam: np.ndarray, t: int) -> tuple[float, float]:
    """(log ||D^t||_F^2, log sum_{k<t} ||D^k||_F^2) for D = diag(lam), in log space (never overflows)."""
    with np.errstate(divide="ignore"):
        log_mod2 = 2 * np.log(np.abs(lam))  # -inf for a zero eigenvalue
    power = float(logsumexp(t * log_mod2)) if np.any(np.isfinite(log_mod2)) else -math.inf
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
    return power, float(logsumexp(terms))


def _power_of_two_scale(a) -> float:
    """A power of two at or above max|a| (dividing by it is exact; at most 2^1023): 1.0 for a zero matrix."""
    top = float(abs(a).max()) if a.size else 0.0
    if not top > 0:
        return 1.0
    return math.ldexp(1.0, min(math.frexp(top)[1], 1023))


#: entries spanning more than this ratio get their eigenvalues from a balanced matrix (gees does not balance)
BALANCE_RANGE = 1e60


def _balanced_eigenvalues(w: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(eigenvalues / s, log s) of W after an exact power-of-two balancing, when W's nonzero entries
    span more than :data:`BALANCE_RANGE` (one 1e300 entry: the unbalanced Schur form loses the small
    entries and with them the radius); None otherwise."""
    from scipy.linalg import matrix_balance  # noqa: PLC0415 (scipy.linalg, only for badly scaled W)

    size = np.abs(w)
    nonzero = size[size > 0]
    if nonzero.size == 0 or float(nonzero.max()) <= BALANCE_RANGE * float(nonzero.min()):
        return None
    balanced, _ = matrix_balance(w, permute=True, separate=False)
    scale = _power_of_two_scale(balanced)
    return np.linalg.eigvals(balanced / scale).astype(np.complex128), math.log(scale)


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
        return {
            "lam": lam,
            "log_radius": -math.inf,
            "norm": 0.0,
            "log_power": -math.inf,
            "log_sum": math.log(n),
            "method": "exact (zero matrix)",
        }
    method = "Schur factor (no eigenvectors of W)"
    if np.iscomplexobj(w):
        ws = w / scale
        tri = schur_triangular(ws)
        lam = np.diagonal(tri).copy()
        result = log_power_sums_schur(tri, [t], log_scale=log_scale)
        del tri
        norm = spectral_norm(ws)
    else:
        scaled = np.empty(
            w.shape, dtype=np.float64, order="F"
        )  # W / scale (a power of two: exact), Fortran order for LAPACK
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
    balanced = _balanced_eigenvalues(w)
    if balanced is not None:
        lam, log_scale = balanced
        scale = math.exp(log_scale) if log_scale < 709 else scale
        method += "; eigenvalues of the balanced matrix (entries span more than 1e60)"
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
            vals = eigs(
                m,
                k=min(k, n - 2),
                which="LM",
                return_eigenvectors=False,
                tol=1e-12,
                v0=rng.standard_normal(n),
                maxiter=20 * n,
            )
        except ArpackNoConvergence as exc:  # keep what converged, and say so
            converged = False
            vals = exc.eigenvalues if len(exc.eigenvalues) else np.array([np.nan])
        radii.append(float(np.nanmax(np.abs(vals))) if np.any(np.isfinite(vals)) else 0.0)
    rho = max(radii)
    agree = abs(radii[0] - radii[1]) <= 1e-8 * max(rho, 1e-300)
    norm = float(svds(m, k=1, return_singular_vectors=False, random_state=0)[0])
    log_power = log_sum = None
    method = (
        f"ARPACK radius (k = 6 and 16, {'agree' if agree else 'disagree: the larger is reported'}"
        f"{'' if converged else '; ARPACK did not fully converge'})"
    )
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
        log_sum = float(logsumexp(terms[:t]))
        method += f"; growth estimated with {SPARSE_PROBES} random probes (stochastic, about 25% relative error)"
    else:
        method += "; growth not computed (seq_len x nnz too large for the probe estimate)"
    return {
        "lam": vals,
        "log_radius": math.log(rho) if rho > 0 else -math.inf,
        "norm": norm,
        "log_power": log_power,
        "log_sum": log_sum,
        "method": method,
        "radius_only": True,
    }


def _finite_exp(value: float) -> float | None:
    """exp(value), or None when it overflows float64 (a 1e308 radius is finite and shown)."""
    try:
        result = math.exp(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


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
        with np.errstate(all="ignore"):  # a subnormal or huge radius sits in a law's far tail
            return _evaluate(law)

    def _evaluate(law):
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
    shown = "overflows float64" if radius is None else f"{radius:.4g}"
    text = (
        f"radius {shown}: {where} Glorot at n = {n} (percentile {100 * percentile:.1f}; "
        f"Glorot P(rho > 1) = {p_above_1:.2f}; {source})"
    )
    return {"percentile": percentile, "glorot_p_above_1": p_above_1, "source": source, "text": text}


# --- one matrix -----------------------------------------------------------------------------------


def _as_matrix(a, name: str) -> tuple[Any, str, bool]:
    """(float64/complex128 array or scipy.sparse matrix, stored dtype name, sparse?) of a user's input.

    Torch tensors are detached and copied to the CPU (bfloat16 through float32, exactly); a meta
    tensor (no data), a ragged list or a non-numeric array is an InputError naming ``a``.
    """
    if hasattr(a, "tocsr") and not isinstance(a, np.ndarray):
        return a, str(a.dtype), True
    if type(a).__name__ in ("Tensor", "Parameter") and hasattr(a, "detach"):
        if str(getattr(a, "device", "")) == "meta":
            raise InputError(
                f"a: tensor {name!r} is a meta tensor (shape only, no data): materialize it first", param="a"
            )
        stored = str(a.dtype).replace("torch.", "")
        t = a.detach().cpu()
        a = (t.float() if stored == "bfloat16" else t).numpy()
        return discovery._upcast(name, a), stored, False
    try:
        array = np.asarray(a)
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"a: {name!r} is not a rectangular array ({exc}): give a square matrix or a 1-D vector", param="a"
        ) from None
    if array.dtype.kind not in "fiucb" and array.dtype.name not in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        raise InputError(
            f"a: {name!r} has dtype {array.dtype}, not numbers (a ragged list?): give a square matrix or a 1-D vector",
            param="a",
        )
    return discovery._upcast(name, array), array.dtype.name, False


def _numbers(a, *, sparse: bool, diagonal: bool, t: int) -> dict:
    """Eigenvalues, log radius, norm and log power sums of ``a`` (floating-point warnings kept off stderr)."""
    with np.errstate(all="ignore"):  # subnormal and huge entries: the scaled numerics handle them
        if diagonal:
            lam = a.astype(np.complex128)
            log_power, log_sum = _diagonal_log_sums(lam, t)
            rho = float(np.abs(lam).max())
            return {
                "lam": lam,
                "log_radius": math.log(rho) if rho > 0 else -math.inf,
                "norm": rho,
                "log_power": log_power,
                "log_sum": log_sum,
                "method": "exact (diagonal)",
            }
        if sparse and a.shape[0] > DENSE_LIMIT:
            return _sparse_numbers(a, t)
        return _dense_numbers(np.asarray(a.toarray()) if sparse else a, t)


def _gate(
    log_radius: float, shown: str, log10_growth: float | None, thresholds: Thresholds, tolerance: float
) -> tuple[str, list]:
    """The verdict and its reasons: radius against max_radius (beyond roundoff), growth against max_growth."""
    reasons, warnings = [], []
    limit, t = thresholds.max_radius, thresholds.seq_len
    if log_radius > math.log(limit) + math.log1p(tolerance):
        reasons.append(f"radius {shown} > max_radius {limit:g}")
    elif log_radius > math.log((1 - WARN_MARGIN) * limit):
        warnings.append(f"radius {shown} within {WARN_MARGIN:.0%} of max_radius {limit:g}")
    if thresholds.max_growth is not None and log10_growth is not None:
        growth_limit = math.log10(thresholds.max_growth)
        if log10_growth > growth_limit:
            reasons.append(
                f"hidden-state growth 10^{log10_growth:.2f} at t = {t} > max_growth {thresholds.max_growth:g}"
            )
        elif log10_growth > growth_limit - 1:
            warnings.append(
                f"hidden-state growth 10^{log10_growth:.2f} at t = {t} "
                f"within 10x of max_growth {thresholds.max_growth:g}"
            )
    return ("fail" if reasons else ("warn" if warnings else "ok")), reasons + warnings


def _flat_thresholds(thresholds: Thresholds | None, max_radius, seq_len, max_growth) -> Thresholds:
    """``thresholds``, or the flat keywords over it (``max_growth="default"`` keeps its growth limit)."""
    base = thresholds or Thresholds()
    return Thresholds(
        max_radius=base.max_radius if max_radius is None else max_radius,
        seq_len=base.seq_len if seq_len is None else seq_len,
        max_growth=base.max_growth if isinstance(max_growth, str) and max_growth == "default" else max_growth,
    )


def check_matrix(
    name_or_matrix,
    a=None,
    thresholds: Thresholds | None = None,
    *,
    name: str | None = None,
    max_radius: float | None = None,
    seq_len: int | None = None,
    max_growth: float | None | str = "default",
    stored_dtype: str | None = None,
    rule: str = "matrix",
    rule_reason: str = "",
    source_tensor: str | None = None,
    source_shape: list | None = None,
    gate: str | None = None,
    keep_eigenvalues: bool = False,
) -> TensorCheck:
    """The full diagnosis of one matrix (2-D, dense or scipy.sparse) or diagonal (1-D eigenvalues).

    ``check_matrix(w, max_radius=1.0, seq_len=1000, max_growth=1e3)``, or (older form)
    ``check_matrix("name", w, thresholds)``. Steps: read the input (:func:`_as_matrix`), compute the
    numbers (:func:`_numbers`), gate them (:func:`_gate`).

    Parameters
    ----------
    name_or_matrix : array_like, scipy.sparse matrix or str
        The matrix (or 1-D vector of eigenvalues; NumPy, scipy.sparse or a torch tensor), or its
        name when the matrix follows as ``a``.
    a : array_like, optional
        The matrix, in the older ``(name, a, thresholds)`` form.
    thresholds : Thresholds, optional
        The gate as one object; the flat keywords below override it.
    name : str, optional
        Shown in the report (default "W").
    max_radius, seq_len, max_growth
        The gate (:class:`Thresholds`); ``max_growth=None`` turns the growth gate off.
    stored_dtype : str, optional
        The dtype the weights were stored in (sets the roundoff tolerance); default the input's.
    rule, rule_reason, source_tensor, source_shape, gate
        Provenance, printed with the result.
    keep_eigenvalues : bool
        Keep the eigenvalues on the result (for plots; never in ``to_dict()``).

    Returns
    -------
    TensorCheck

    Raises
    ------
    InputError
        (param ``a``) a ragged list, a meta tensor, a non-numeric or non-finite array, a shape that
        is neither square nor 1-D.
    """
    if a is None:
        a, label = name_or_matrix, name or "W"
    else:
        label = name or str(name_or_matrix)
    thresholds = _flat_thresholds(thresholds, max_radius, seq_len, max_growth)
    t = thresholds.seq_len
    a, stored, sparse = _as_matrix(a, label)
    stored_dtype = stored_dtype or stored
    diagonal = not sparse and a.ndim == 1
    if not (diagonal or (len(a.shape) == 2 and a.shape[0] == a.shape[1] and a.shape[0] >= 1)):
        raise InputError(
            f"tensor {label!r} has shape {tuple(a.shape)}: need a square 2-D matrix or a 1-D vector of eigenvalues",
            param="a",
        )
    n = a.shape[0]
    field_name = "complex" if np.iscomplexobj(a.data if sparse else a) else "real"
    numbers = _numbers(a, sparse=sparse, diagonal=diagonal, t=t)
    log_radius = numbers["log_radius"]
    radius = _finite_exp(log_radius)
    log10_radius = log_radius / LN10 if math.isfinite(log_radius) else None
    tolerance = max(ROUNDOFF, stored_epsilon(stored_dtype))
    lam_scale = numbers.get("lam_scale", 1.0)
    with np.errstate(divide="ignore", over="ignore"):
        outside = int(np.sum(np.log(np.abs(numbers["lam"])) + math.log(lam_scale) > math.log1p(tolerance)))
        lam = numbers["lam"] * lam_scale
    log_power, log_sum = numbers["log_power"], numbers["log_sum"]
    log10_growth = (log_sum - math.log(t * n)) / LN10 if log_sum is not None else None
    shown = f"{radius:.6g}" if radius is not None else f"10^{log10_radius:.1f} (overflows float64)"
    verdict, reasons = _gate(log_radius, shown, log10_growth, thresholds, tolerance)
    norm = numbers["norm"]
    return TensorCheck(
        name=label,
        shape=list(a.shape),
        dtype=str(stored_dtype),
        compute_dtype="complex128" if field_name == "complex" or diagonal else "float64",
        diagonal=diagonal,
        radius=radius,
        log10_radius=log10_radius,
        outside_unit_circle=outside,
        spectral_norm=norm if norm is not None and math.isfinite(norm) else None,
        seq_len=t,
        log10_power_gain=(log_power - math.log(n)) / LN10
        if log_power is not None and math.isfinite(log_power)
        else None,
        log10_growth=log10_growth,
        growth_method=numbers["method"],
        tolerance=tolerance,
        glorot=None if diagonal else glorot_context(radius, n, field_name),
        verdict=verdict,
        reasons=reasons,
        rule=rule,
        rule_reason=rule_reason,
        source_tensor=source_tensor,
        source_shape=source_shape,
        gate=gate,
        power_note="W^t = 0: decays to zero (nilpotent or zero W)"
        if log_power is not None and log_power == -math.inf
        else None,
        lyapunov=log_radius if math.isfinite(log_radius) else None,
        eigenvalues=lam if keep_eigenvalues else None,
    )
