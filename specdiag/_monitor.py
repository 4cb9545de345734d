"""The framework-neutral core of the training monitors: per recurrent tensor, the radius and the cell's
maximal Lyapunov exponent every k steps, as JSON lines (and TensorBoard scalars), warning once.

Per tensor and call:

- ``radius``: the spectral radius of the recurrence a linear W or simple RNN has (the whole
  ``weight_hh``), or of a gated cell's candidate block (GRU ``n``, LSTM ``g``: the block
  ``specdiag fix`` rescales); ``blocks`` adds every gate block's radius as information (SPEC
  section 8: a gate block's radius is no verdict);
- ``lyapunov``: the cell's maximal Lyapunov exponent (SPEC section 8) with its standard error,
  driven by x ~ N(0, I) through the cell's input weights, from a short, seeded estimate
  (:data:`LYAPUNOV_STEPS` steps); for a linear W it is log rho(W) exactly. Growth over L steps is
  exp(lambda L). ``null`` with a note where it cannot be computed.

One JSON object per tensor and call, appended to ``log`` (created with its directory on the first
call). A tensor whose radius first exceeds ``max_radius`` draws one ``RuntimeWarning`` (then never
again for that tensor), and so does a first positive Lyapunov exponent.
"""

from __future__ import annotations

import json
import logging
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._pool import single_blas_thread
from ._validation import positive_number, whole_number

__all__ = ["CellWeights", "MonitorCore", "cell_lyapunov", "LYAPUNOV_STEPS", "CANDIDATE"]

log = logging.getLogger("specdiag")

#: averaged tangent steps of the monitor's Lyapunov estimate (after a burn-in of half as many)
LYAPUNOV_STEPS = 200
#: trajectories of the monitor's Lyapunov estimate
LYAPUNOV_TRAJECTORIES = 4
#: the candidate block of each gated kind, in the canonical (PyTorch) gate order
CANDIDATE = {"gru": (2, "n"), "lstm": (2, "g")}
GATE_LETTERS = {"gru": "rzn", "lstm": "ifgo"}


@dataclass(frozen=True)
class CellWeights:
    """One recurrent cell's weights in the canonical PyTorch layout (float64 NumPy).

    ``kind`` is "linear", "rnn_tanh", "rnn_relu", "gru" or "lstm"; ``w_hh`` is (g h x p) with the
    gates stacked by rows (GRU r, z, n; LSTM i, f, g, o); ``w_hr`` is an LSTM's projection.
    """

    name: str
    kind: str
    w_hh: np.ndarray
    w_ih: np.ndarray | None = None
    b_ih: np.ndarray | None = None
    b_hh: np.ndarray | None = None
    w_hr: np.ndarray | None = None
    #: why no Lyapunov exponent is estimated for this cell (None: it is)
    lyapunov_note: str | None = None


def _radius(a: np.ndarray) -> float:
    return float(np.abs(np.linalg.eigvals(a)).max())


def cell_lyapunov(cell: CellWeights, *, seed: int = 0) -> dict:
    """{"lyapunov", "lyapunov_se", "lyapunov_regime", "lyapunov_note"} of one cell (SPEC section 8).

    The one place the monitors reach the Lyapunov estimator (:func:`specdiag._lyapunov.max_lyapunov`).
    """
    if cell.lyapunov_note is not None:
        return {"lyapunov": None, "lyapunov_se": None, "lyapunov_regime": None, "lyapunov_note": cell.lyapunov_note}
    try:
        from ._cells import Cell  # noqa: PLC0415 (the estimator's modules load only when a monitor measures)
        from ._lyapunov import max_lyapunov  # noqa: PLC0415
    except ImportError:
        return {
            "lyapunov": None,
            "lyapunov_se": None,
            "lyapunov_regime": None,
            "lyapunov_note": "this specdiag has no Lyapunov estimator",
        }
    if cell.kind == "linear":
        estimate = max_lyapunov(cell.w_hh)
    else:
        model = Cell(cell.kind, cell.w_hh, w_ih=cell.w_ih, b_ih=cell.b_ih, b_hh=cell.b_hh, w_hr=cell.w_hr)
        regime = "driven" if cell.w_ih is not None else "zero-input"
        estimate = max_lyapunov(
            model,
            regime=regime,
            steps=LYAPUNOV_STEPS,
            burn_in=LYAPUNOV_STEPS // 2,
            trajectories=LYAPUNOV_TRAJECTORIES,
            seed=seed,
        )
    value = estimate.value if math.isfinite(estimate.value) else None
    note = getattr(estimate, "note", None) or (None if value is not None else "the estimate overflowed")
    return {
        "lyapunov": value,
        "lyapunov_se": estimate.stderr,
        "lyapunov_regime": estimate.regime,
        "lyapunov_note": note,
    }


def measure(cell: CellWeights, *, blocks: bool = False, lyapunov: bool = True) -> dict:
    """The monitor's numbers for one cell: radius (whole W or candidate block), optional block radii, Lyapunov."""
    row: dict[str, Any] = {"tensor": cell.name, "cell": cell.kind}
    w = cell.w_hh
    if cell.kind in CANDIDATE:
        index, letter = CANDIDATE[cell.kind]
        h = w.shape[0] // len(GATE_LETTERS[cell.kind])
        square = w.shape[1] == h
        row["radius_of"] = f"candidate block {letter}"
        row["radius"] = _radius(w[index * h : (index + 1) * h]) if square else None
        if blocks and square:
            row["blocks"] = {g: _radius(w[i * h : (i + 1) * h]) for i, g in enumerate(GATE_LETTERS[cell.kind])}
        if not square:
            row["radius_note"] = (
                f"projected LSTM ({w.shape[0]} x {w.shape[1]}): gate blocks are not square; see lyapunov"
            )
    else:
        row["radius_of"] = "W"
        row["radius"] = _radius(w)
    if lyapunov:
        row.update(cell_lyapunov(cell))
    return row


class MonitorCore:
    """Every ``every`` steps: measure each cell, append JSON lines, send TensorBoard scalars, warn once.

    Parameters
    ----------
    every : int
        Measure when ``step % every == 0``.
    log : str or Path or None
        The JSON-lines file (appended to; None: no file).
    max_radius : float
        A radius above it draws one warning per tensor.
    tensorboard : None, bool, str, Path or a SummaryWriter
        True: a ``torch.utils.tensorboard.SummaryWriter`` in ``<log dir>/tensorboard``; a path: one
        there; an object with ``add_scalar``: used as is. Where the writer cannot be made (the
        ``tensorboard`` package missing), one log line says so and the JSON lines go on.
    lyapunov : bool
        Estimate each cell's Lyapunov exponent (the costly part).
    blocks : bool
        Also record every gate block's radius (information).
    """

    def __init__(
        self,
        *,
        every: int = 100,
        log: str | Path | None = "runs/spectra.jsonl",
        max_radius: float = 1.0,
        tensorboard=None,
        lyapunov: bool = True,
        blocks: bool = False,
    ):
        self.every = whole_number(every, "every")
        self.log = None if log is None else Path(log)
        self.max_radius = positive_number(max_radius, "max_radius")
        self.lyapunov = bool(lyapunov)
        self.blocks = bool(blocks)
        self.warned: set[tuple[str, str]] = set()
        self.writer = self._writer(tensorboard)
        self.last_seconds: float | None = None

    def _writer(self, tensorboard):
        if tensorboard is None or tensorboard is False:
            return None
        if hasattr(tensorboard, "add_scalar"):
            return tensorboard
        directory = (
            (self.log.parent if self.log is not None else Path("runs")) / "tensorboard"
            if tensorboard is True
            else Path(tensorboard)
        )
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415 (optional: only when asked)
        except ImportError as exc:
            log.warning(
                "specdiag monitor: TensorBoard asked for but unavailable (%s): pip install tensorboard; "
                "writing JSON lines only",
                exc,
            )
            return None
        return SummaryWriter(log_dir=str(directory))

    def due(self, step: int) -> bool:
        """True when ``step`` is a multiple of ``every``."""
        return int(step) % self.every == 0

    def record(self, step: int, cells: list[CellWeights]) -> list[dict]:
        """Measure every cell now, write and return the rows (one per cell)."""
        start = time.perf_counter()
        rows = []
        with single_blas_thread():  # beside a training loop's own threads, more BLAS threads only contend
            for cell in cells:
                rows.append(
                    {
                        "step": int(step),
                        "time": time.time(),
                        **measure(cell, blocks=self.blocks, lyapunov=self.lyapunov),
                    }
                )
        for row in rows:
            self._warn(row)
        self.last_seconds = time.perf_counter() - start
        if self.log is not None and rows:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with open(self.log, "a") as fh:
                fh.writelines(json.dumps(row, allow_nan=False) + "\n" for row in rows)
        if self.writer is not None:
            for row in rows:
                for key in ("radius", "lyapunov"):
                    if row.get(key) is not None:
                        self.writer.add_scalar(f"specdiag/{row['tensor']}/{key}", row[key], int(step))
        return rows

    def _warn(self, row: dict) -> None:
        name = row["tensor"]
        if row.get("radius") is not None and row["radius"] > self.max_radius and (name, "radius") not in self.warned:
            self.warned.add((name, "radius"))
            warnings.warn(
                f"specdiag: {name}: {row['radius_of']} radius {row['radius']:.4f} "
                f"crossed max_radius {self.max_radius:g} at step {row['step']}",
                RuntimeWarning,
                stacklevel=4,
            )
        if row.get("lyapunov") is not None and row["lyapunov"] > 0 and (name, "lyapunov") not in self.warned:
            self.warned.add((name, "lyapunov"))
            warnings.warn(
                f"specdiag: {name}: Lyapunov exponent {row['lyapunov']:+.4f} > 0 at step {row['step']}: "
                "perturbations grow "
                f"like exp({row['lyapunov']:.4f} t)",
                RuntimeWarning,
                stacklevel=4,
            )
