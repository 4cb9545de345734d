"""Stability checks of a user's weights: files, state dicts and modules, by the name rules, into one report.

:mod:`specdiag._discovery` decides from the headers what each tensor is; each linear recurrence is
diagnosed by :func:`specdiag._check_matrix.check_matrix` (radius, growth, verdict) and each nonlinear
cell by :func:`specdiag._check_cells.check_cell` (maximal Lyapunov exponent), in a process pool.
Recurrent-looking tensors that cannot be checked are rows with verdict "not checked" and fail the run
unless ``allow_unchecked``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from . import _discovery as discovery
from ._cells import Cell
from ._check_cells import CellCheck, check_cell
from ._check_matrix import (
    DEFAULT_MAX_GROWTH,
    DENSE_BYTES_PER_ENTRY,
    DENSE_LIMIT,
    SMALL_WORK,
    SPARSE_PROBES,
    VERDICTS,
    TensorCheck,
    Thresholds,
    _flat_thresholds,
    check_matrix,
    glorot_context,
)
from ._errors import InputError
from ._pool import process_map, resolve_workers
from ._results import Result
from ._validation import positive_number
from ._discovery import Selection
from ._weights import TensorInfo, WeightsSource, memory_budget, open_weights, require_within_budget, source_from_mapping

__all__ = [
    "Thresholds",
    "TensorCheck",
    "CheckReport",
    "UncheckedRow",
    "Selection",
    "check_matrix",
    "check_tensors",
    "check_state_dict",
    "check_module",
    "check_file",
    "list_file",
    "overall_verdict",
    "glorot_context",
    "VERDICTS",
    "DEFAULT_MAX_GROWTH",
    "DENSE_LIMIT",
]


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


def check_tensors(
    tensors: Mapping,
    thresholds: Thresholds | None = None,
    *,
    workers: int | None = None,
    source: str = "<tensors>",
    keep_eigenvalues: bool = False,
) -> CheckReport:
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


def _items(
    source: WeightsSource, plan: discovery.Plan, *, keep_eigenvalues: bool, input_scale: float, seed: int
) -> list:
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
            "stored_dtype": info.dtype,
            "rule": entry.rule,
            "rule_reason": entry.reason,
            "source_tensor": entry.tensor,
            "source_shape": list(info.shape),
            "gate": entry.gate,
            "keep_eigenvalues": keep_eigenvalues,
            "input_scale": input_scale,
            "seed": seed,
            "direction": entry.cell.direction if entry.cell else None,
        }
        items.append((entry.name, discovery.materialize(entry, read), kwargs))
    cache.clear()
    return items


def _check_source(
    source: WeightsSource,
    thresholds: Thresholds,
    selection: Selection,
    *,
    workers,
    max_memory,
    keep_eigenvalues: bool,
    input_scale: float = 1.0,
    seed: int = 0,
    allow_unchecked: bool = False,
) -> CheckReport:
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
        source.path,
        thresholds,
        results,
        verdict,
        time.perf_counter() - start,
        kind=source.kind,
        container=source.container,
        skipped=list(plan.skipped),
        notes=notes,
        coverage=coverage,
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
    return _check_source(
        source,
        thresholds,
        selection,
        workers=workers,
        max_memory=max_memory,
        keep_eigenvalues=keep_eigenvalues,
        input_scale=input_scale,
        seed=seed,
        allow_unchecked=allow_unchecked,
    )


def list_file(
    path: str | Path,
    *,
    keys=None,
    model: str = "auto",
    param: str = "auto",
    diagonal: bool = False,
    layout: str | None = None,
    biases: list | None = None,
    gates: list | None = None,
    state_dict: str | None = None,
) -> tuple[WeightsSource, discovery.Plan]:
    """Dry run: the source's headers and the plan (what would be checked and why), no data read.

    The plan is the one :func:`check_file` follows, and it fails the same way (nothing to check).
    """
    source = open_weights(path, container=state_dict)
    return source, Selection(keys, model, param, diagonal, layout, biases, gates).plan(source)


def check_state_dict(
    state_dict: Mapping,
    *,
    keys=None,
    model: str = "auto",
    param: str = "auto",
    diagonal: bool = False,
    layout: str | None = None,
    biases: list | None = None,
    gates: list | None = None,
    container: str | None = None,
    thresholds: Thresholds | None = None,
    max_radius: float | None = None,
    seq_len: int | None = None,
    max_growth: float | None | str = "default",
    input_scale: float = 1.0,
    seed: int = 0,
    allow_unchecked: bool = False,
    workers: int | None = None,
    max_memory=None,
    keep_eigenvalues: bool = False,
    label: str = "<state_dict>",
) -> CheckReport:
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
    """  # noqa: E501 (a numpydoc line naming several parameters cannot wrap)
    thresholds = _flat_thresholds(thresholds, max_radius, seq_len, max_growth)
    resolve_workers(workers)
    selection = Selection(keys, model, param, diagonal, layout, biases, gates)
    return _check_source(
        source_from_mapping(state_dict, label, container=container),
        thresholds,
        selection,
        workers=workers,
        max_memory=max_memory,
        keep_eigenvalues=keep_eigenvalues,
        input_scale=positive_number(input_scale, "input_scale"),
        seed=seed,
        allow_unchecked=allow_unchecked,
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
