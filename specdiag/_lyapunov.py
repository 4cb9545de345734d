"""The maximal Lyapunov exponent of a recurrent cell (SPEC section 8), and its rest state.

lambda = lim (1/T) sum_t log ||J_t v_{t-1}||, v_t = J_t v_{t-1} / ||J_t v_{t-1}||, J_t = dF/ds at the
cell's state along a trajectory (Benettin's method with one tangent vector: the QR of a single
column is its normalization). Growth of a perturbation over a sequence of length L is
exp(lambda L); for a linear W, lambda = log rho(W) exactly, whatever the input, and
:func:`max_lyapunov` returns that exact value.

Defaults (:data:`DEFAULT_TRAJECTORIES` trajectories of :data:`DEFAULT_STEPS` steps after
:data:`DEFAULT_BURN_IN` burn-in steps): each trajectory starts from its own random state
(entries N(0, 0.5^2), so an unstable rest state is left) and tangent vector; lambda is the mean
log growth per step over all trajectories and steps, and its standard error comes from batch
means (each trajectory cut into :data:`BATCHES` consecutive batches). Every draw comes from
``SeedSequence([seed, regime])``: the same call gives the same number. The work per step is one
product of the (B + B) x p states-and-tangents with w_hh^T: 800 steps x 8 rows, about 13 GFlop per
regime for an LSTM with h = 512 (a few seconds per layer for both regimes on one core), and the
standard error stays far below the gate's resolution (ln(1e3) / 1000 = 0.0069 per step at the
default thresholds; measured SEs are 1e-4 to 3e-3).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._cells import Cell, input_drive, jacobian, step
from ._errors import InputError
from ._pool import single_blas_thread
from ._results import Result
from ._validation import positive_number, whole_number

__all__ = [
    "REGIMES",
    "DEFAULT_STEPS",
    "DEFAULT_BURN_IN",
    "DEFAULT_TRAJECTORIES",
    "LyapunovEstimate",
    "RestState",
    "max_lyapunov",
    "rest_state",
    "log_radius",
]

REGIMES = ("driven", "zero-input")
#: averaged tangent steps per trajectory
DEFAULT_STEPS = 600
#: steps discarded first (the trajectory reaches its attractor, the tangent its leading direction)
DEFAULT_BURN_IN = 200
#: independent trajectories (batched in one matrix product per step)
DEFAULT_TRAJECTORIES = 4
#: batch means per trajectory for the standard error
BATCHES = 10
#: standard deviation of the random initial states
INITIAL_SPREAD = 0.5
#: input steps drawn (and multiplied by w_ih) at once
INPUT_BLOCK = 64
#: a state entry beyond this is an exploding state (an unbounded ReLU or linear cell)
EXPLODED = 1e150
#: cells whose w_hh has fewer entries run their products on one BLAS thread
SMALL_CELL = 256 * 1024
#: smallest tangent growth recorded for one step (a tangent mapped to zero restarts from a random one)
TINY = 1e-300


@dataclass(frozen=True)
class LyapunovEstimate(Result):
    """The maximal Lyapunov exponent of a cell in one regime.

    Attributes
    ----------
    value : float
        lambda, per step (natural log); exp(value * L) is the growth over L steps.
    stderr : float
        Batch-means standard error (0 for the exact linear value).
    regime : str
        "driven" (x ~ N(0, input_scale^2 I) through w_ih) or "zero-input".
    input_scale : float or None
        The input's standard deviation (None at zero input).
    steps, burn_in, trajectories : int
        What was averaged (0 for the exact linear value).
    method : str
        How it was computed.
    exploded : bool
        The state left every bound (``value`` then covers the steps before it did).
    note : str or None
        What the number means when it is unusual.
    """

    value: float
    stderr: float
    regime: str
    input_scale: float | None
    steps: int
    burn_in: int
    trajectories: int
    method: str
    exploded: bool = False
    note: str | None = None


@dataclass(frozen=True)
class RestState(Result):
    """Where the zero-input dynamics settle, and the radius of the Jacobian there (information only)."""

    settled: bool
    steps: int
    radius: float | None
    state_norm: float
    eigenvalues: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {"settled": self.settled, "steps": self.steps, "radius": self.radius, "state_norm": self.state_norm}


def _eigenvalues(w: np.ndarray) -> tuple[np.ndarray, float]:
    """(eigenvalues of W / s, log s) for a power of two s near max|W| (no overflow for huge entries)."""
    top = float(np.abs(w).max()) if w.size else 0.0
    if not top > 0:
        return np.zeros(w.shape[0], dtype=np.complex128), 0.0
    scale = math.ldexp(1.0, math.frexp(top)[1])
    return np.linalg.eigvals(w / scale).astype(np.complex128), math.log(scale)


def _log_of_max(lam: np.ndarray, log_scale: float) -> float:
    rho = float(np.abs(lam).max()) if lam.size else 0.0
    return math.log(rho) + log_scale if rho > 0 else -math.inf


def log_radius(w: np.ndarray) -> float:
    """log rho(W) of a square matrix, computed on W scaled by a power of two (no overflow)."""
    return _log_of_max(*_eigenvalues(np.asarray(w, dtype=np.float64)))


def _as_cell(cell) -> Cell:
    if isinstance(cell, Cell):
        return cell
    w = np.asarray(cell)
    if w.ndim == 2 and w.shape[0] == w.shape[1] and w.dtype.kind in "fiu":
        return Cell("linear", w)
    raise InputError(
        f"cell must be a specdiag._cells.Cell or a square real matrix, got {type(cell).__name__} {np.shape(cell)}",
        param="cell",
    )


def _exact_linear(cell: Cell, regime: str, input_scale: float | None) -> LyapunovEstimate:
    value = log_radius(cell.w_hh)
    note = None
    if value == -math.inf:
        value, note = math.log(TINY), "W is nilpotent or zero: perturbations vanish in finitely many steps"
    return LyapunovEstimate(
        value, 0.0, regime, input_scale, 0, 0, 0, "exact: log rho(W) (linear recurrence)", note=note
    )


def _initial(cell: Cell, trajectories: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    s = INITIAL_SPREAD * rng.standard_normal((trajectories, cell.state_size))
    v = rng.standard_normal((trajectories, 1, cell.state_size))
    v /= np.linalg.norm(v, axis=2, keepdims=True)
    return s, v


def max_lyapunov(
    cell,
    *,
    regime: str = "driven",
    input_scale: float = 1.0,
    steps: int = DEFAULT_STEPS,
    burn_in: int = DEFAULT_BURN_IN,
    trajectories: int = DEFAULT_TRAJECTORIES,
    seed: int = 0,
) -> LyapunovEstimate:
    """The maximal Lyapunov exponent of ``cell`` in one regime, with its standard error.

    Parameters
    ----------
    cell : Cell or ndarray
        A :class:`specdiag._cells.Cell`, or a square matrix (a linear recurrence: the exact
        log rho(W) is returned).
    regime : {"driven", "zero-input"}
        Driven: x_t ~ N(0, input_scale^2 I) through the cell's input weights (needs ``cell.w_ih``);
        zero-input: x_t = 0 (the biases still act).
    input_scale : float
        Standard deviation of the driving input.
    steps, burn_in, trajectories : int
        Averaged steps per trajectory, discarded steps first, and trajectories (see the module).
    seed : int
        Seeds every draw (initial states, tangents, inputs).

    Returns
    -------
    LyapunovEstimate

    Examples
    --------
    >>> import numpy as np
    >>> bool(abs(max_lyapunov(np.diag([0.5, 2.0])).value - np.log(2.0)) < 1e-12)
    True
    """
    cell = _as_cell(cell)
    if regime not in REGIMES:
        raise InputError(f"regime must be one of {', '.join(REGIMES)}, got {regime!r}", param="regime")
    input_scale = positive_number(input_scale, "input_scale")
    steps = whole_number(steps, "steps", minimum=BATCHES)
    burn_in = whole_number(burn_in, "burn_in", minimum=0)
    trajectories = whole_number(trajectories, "trajectories", minimum=1)
    driven = regime == "driven"
    scale = input_scale if driven else None
    if cell.kind == "linear":
        return _exact_linear(cell, regime, scale)
    if driven and cell.w_ih is None:
        raise InputError(
            "regime 'driven' needs the cell's input weights (w_ih): use regime='zero-input'", param="regime"
        )
    context = single_blas_thread() if cell.w_hh.size < SMALL_CELL else contextlib.nullcontext()
    with context:  # threads cost more than they save on small products
        return _benettin(cell, regime, input_scale, steps, burn_in, trajectories, seed)


def _benettin(
    cell: Cell, regime: str, input_scale: float, steps: int, burn_in: int, trajectories: int, seed: int
) -> LyapunovEstimate:
    driven = regime == "driven"
    scale = input_scale if driven else None
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), REGIMES.index(regime)]))
    s, v = _initial(cell, trajectories, rng)
    logs = np.empty((steps, trajectories))
    still = input_drive(cell, None, trajectories)
    total, t, exploded = burn_in + steps, 0, False
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        while t < total and not exploded:
            block = min(INPUT_BLOCK, total - t)
            if driven:
                x = input_scale * rng.standard_normal((block * trajectories, int(cell.w_ih.shape[1])))  # type: ignore[union-attr]
                drives = input_drive(cell, x, block * trajectories).reshape(block, trajectories, -1)
            for k in range(block):
                s, v = step(cell, s, v, drives[k] if driven else still)
                norms = np.linalg.norm(v[:, 0, :], axis=1)
                dead = ~(norms > TINY)
                if dead.any():  # J v = 0 (a dead ReLU, a zero gate): restart the tangent, record the floor
                    v[dead] = rng.standard_normal((int(dead.sum()), 1, cell.state_size))
                    v[dead] /= np.linalg.norm(v[dead], axis=2, keepdims=True)
                    norms = np.where(dead, TINY, norms)
                    v[~dead] /= norms[~dead, None, None]
                else:
                    v /= norms[:, None, None]
                if t >= burn_in:
                    logs[t - burn_in] = np.log(norms)
                t += 1
                if not np.all(np.abs(s) < EXPLODED):
                    exploded = True
                    break
    used = max(t - burn_in, 0)
    method = (
        f"Benettin tangent iteration, {trajectories} trajectories x {steps} steps after {burn_in} burn-in, "
        "batch-means SE"
    )
    if exploded:
        note = f"the state explodes (an entry beyond {EXPLODED:g} after {t} steps): the cell's state is unbounded"
        value = (
            float(np.max(np.mean(logs[:used], axis=0))) if used else math.log(EXPLODED) / max(t, 1)
        )  # the exploding trajectory's
        return LyapunovEstimate(
            max(value, 0.0), 0.0, regime, scale, used, burn_in, trajectories, method, exploded=True, note=note
        )
    per_batch = steps // BATCHES
    means = logs[: per_batch * BATCHES].reshape(BATCHES, per_batch, trajectories).mean(axis=1).ravel()
    value = float(logs.mean())
    stderr = float(means.std(ddof=1) / math.sqrt(means.size))
    return LyapunovEstimate(value, stderr, regime, scale, steps, burn_in, trajectories, method)


def rest_state(
    cell, *, max_steps: int = 2000, tol: float = 1e-10, keep_eigenvalues: bool = False
) -> tuple[np.ndarray, RestState]:
    """Iterate the zero-input cell from the origin until it settles (SPEC section 8: not Newton).

    Returns
    -------
    (ndarray, RestState)
        The last state and its summary: ``settled`` when successive states differ by less than
        ``tol`` (max norm), and rho(J) at that state (a linear cell: rho(W)).
    """
    cell = _as_cell(cell)
    s = np.zeros((1, cell.state_size))
    none = np.zeros((1, 0, cell.state_size))
    still = input_drive(cell, None, 1)
    settled, k = False, 0
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        while k < max_steps:
            k += 1
            new, _ = step(cell, s, none, still)
            if not np.all(np.abs(new) < EXPLODED):
                break
            delta = float(np.abs(new - s).max())
            s = new
            if delta < tol:
                settled = True
                break
    state = s[0]
    j = cell.w_hh if cell.kind == "linear" else jacobian(cell, state)
    lam, log_scale = _eigenvalues(j)
    log_rho = _log_of_max(lam, log_scale)
    radius = math.exp(log_rho) if log_rho < 709 else None
    kept = lam * math.exp(log_scale) if keep_eigenvalues and log_scale < 700 else None
    return state, RestState(settled, k, radius, float(np.linalg.norm(state)), eigenvalues=kept)
