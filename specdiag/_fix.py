"""Repair a checkpoint: rescale each recurrence whose ``check`` verdict fails so its radius is ``target``.

What is rescaled, per failing tensor (the verdict comes from :func:`specdiag._check.check_file`):

- a linear or simple recurrence (a square W, a 1-gate ``weight_hh``/``recurrent_kernel``, a Flax
  hidden kernel, keyed matrices): W <- c W with c = target / rho(W);
- a gated cell (GRU, LSTM: 3 or 4 stacked blocks): only its candidate block (PyTorch ``n``/``g``,
  Keras ``h``/``c``, block 2 in both orders) is scaled, to radius ``target``; gates are left alone
  (SPEC section 8: a gate block's radius is not a verdict);
- diagonal recurrences, every eigenvalue times c: stored eigenvalues directly; LRU ``nu_log`` <-
  log(exp(nu_log) - log c) (|lambda| = exp(-exp(nu_log)), phases unchanged); Mamba/S4D ``A_log`` or
  ``log_A_real`` <- log(exp(A) - log(c) / dt) with the step dt stored beside it.

Everything else in the file is written back byte-identical, tensor by tensor. New values are
computed in float64 and cast back to the stored dtype. The record of what was scaled, and by how
much, goes into the safetensors header (``__metadata__["specdiag.fix"]``, a JSON string) or, for
.npz, .npy and PyTorch files, into a JSON sidecar ``<out>.specdiag-fix.json``. The new file is
written atomically (temporary file + rename) and then checked again; a tensor that still fails
is reported with the reason (a gated cell whose verdict a rescale of its candidate block does not
turn, a growth gate a non-normal W still fails at radius ``target``).
"""

from __future__ import annotations

import json
import math
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import _discovery as discovery
from ._check import CheckReport, check_file
from ._check_matrix import DEFAULT_MAX_GROWTH, WARN_MARGIN
from ._errors import InputError
from ._pool import single_blas_thread
from ._report import atomic_write_bytes, write_json_atomic
from ._results import Result
from ._text import printable
from ._validation import positive_number, whole_number
from ._weights import open_weights
from ._weights_base import NON_MODEL_KEYS

__all__ = ["FixResult", "Rescaled", "fix_file", "SIDECAR_SUFFIX", "METADATA_KEY", "CANDIDATE_BLOCK"]

#: PyTorch state-dict files fix rewrites (TorchScript archives are read by check, never rewritten)
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
#: the sidecar record beside a fixed .npz/.npy/PyTorch file
SIDECAR_SUFFIX = ".specdiag-fix.json"
#: the safetensors ``__metadata__`` key holding the record (a JSON string)
METADATA_KEY = "specdiag.fix"
#: index of the candidate block in a stacked gated kernel: PyTorch GRU r,z,n / LSTM i,f,g,o;
#: Keras GRU z,r,h / LSTM i,f,c,o
CANDIDATE_BLOCK = 2
#: the candidate gate of each gated cell kind (canonical letters)
CANDIDATE_LETTER = {"gru": "n", "lstm": "g"}
GATE_LETTERS = {"gru": "rzn", "lstm": "ifgo"}


@dataclass(frozen=True)
class Rescaled(Result):
    """One tensor that was changed: which part, by what factor, and the radius before and after."""

    tensor: str
    part: str
    factor: float
    radius_before: float
    radius_after: float
    how: str


@dataclass(frozen=True)
class FixResult(Result):
    """What ``fix_file`` did: the tensors rescaled, those it could not fix and why, the verdicts."""

    source: str
    out: str | None
    kind: str
    target: float
    rescaled: list
    not_fixed: list
    unchanged: int
    verdict_before: str
    verdict_after: str
    record: str | None
    elapsed_s: float
    notes: list = field(default_factory=list)


# --- which tensors, and how --------------------------------------------------------------------


def _failing_tensors(report: CheckReport) -> dict[str, list]:
    """stored tensor name -> its failing check rows."""
    failing: dict[str, list] = {}
    for row in report.tensors:
        if row.verdict == "fail":
            failing.setdefault(row.source_tensor or row.name, []).append(row)
    return failing


def _radius(a: np.ndarray) -> float:
    if a.ndim == 1:
        return float(np.abs(a).max())
    with single_blas_thread():  # as check's workers: many BLAS threads on a busy machine only contend
        return float(np.abs(np.linalg.eigvals(a)).max())


@dataclass(frozen=True)
class _Part:
    """The part of a stored tensor a failing row rescales: ``tensor[index]``, whose radius (times the
    ``left`` tensor's matrix first, for a projected LSTM) is set to the target."""

    tensor: str
    index: tuple
    label: str
    left: str | None = None


def _block_index(axis: int, i: int, h: int) -> tuple:
    block = slice(i * h, (i + 1) * h)
    return (block, slice(None)) if axis == 0 else (slice(None), block)


def _dense_part(entry, shape_of) -> _Part | None:
    """What a failing dense row rescales: the whole W, a gated cell's candidate block, or a selected gate block."""
    whole = (slice(None), slice(None))
    if entry.layout in ("square", "square_transposed", "eigenvalues"):
        return _Part(entry.tensor, (slice(None),) * len(shape_of(entry.tensor)), "all")
    if entry.layout in ("gates_rows", "gates_columns"):
        if entry.gates == 1:
            return _Part(entry.tensor, whole, "all")
        axis = 0 if entry.layout == "gates_rows" else 1
        h = shape_of(entry.tensor)[1 - axis]
        return _Part(entry.tensor, _block_index(axis, entry.gate_index, h), f"gate {entry.gate} block")
    if entry.layout != "cell":
        return None
    plan = entry.cell
    candidate = CANDIDATE_LETTER.get(plan.kind)
    if plan.convention == "flax":
        tensor = plan.tensor(f"h{candidate}" if candidate else "h")
        return _Part(tensor, whole, f"candidate kernel h{candidate}" if candidate else "all") if tensor else None
    w_hh = plan.tensor("w_hh")
    if candidate is None:
        return _Part(w_hh, whole, "all")
    axis = 0 if plan.convention == "torch" else 1
    rows, cols = shape_of(w_hh)
    h = (rows if axis == 0 else cols) // len(GATE_LETTERS[plan.kind])
    letter = candidate if plan.convention == "torch" else {"n": "h", "g": "c"}[candidate]
    return _Part(w_hh, _block_index(axis, CANDIDATE_BLOCK, h), f"candidate block {letter}", left=plan.tensor("w_hr"))


def _part_radius(part: _Part, current) -> float:
    block = current(part.tensor)[part.index]
    return _radius(current(part.left) @ block if part.left else block)  # a transposed layout has the same eigenvalues


def _step(entry, read) -> np.ndarray | float:
    """The step dt of an a_log/s4d entry, broadcastable to its tensor (as ``discovery.materialize`` reads it)."""
    a = read(entry.tensor)
    partners = [p for p in entry.partners if p.endswith(("log_dt", "dt_bias", "dt_proj.bias"))]
    if not partners:
        return 1.0
    raw = read(partners[0])
    dt = np.exp(raw) if partners[0].endswith("log_dt") else np.logaddexp(0.0, raw)
    return dt.reshape(dt.shape + (1,) * (a.ndim - dt.ndim))


def _rescale_row(entry, current, target: float) -> tuple[str, np.ndarray, dict, Callable[[Callable], float]] | None:
    """(tensor, new float64 values, record fields, radius-of-the-part function) for one failing row;
    None when its radius is already at most ``target`` (scaling up never fixes anything)."""
    if entry.layout in ("lru", "a_log", "s4d"):
        rho = _radius(np.asarray(discovery.materialize(entry, current)))
        c = target / rho
        if c >= 1:
            return None
        a = current(entry.tensor)
        with np.errstate(over="ignore"):
            if entry.layout == "lru":
                new = np.log(np.exp(a) - math.log(c))
                how = "nu_log <- log(exp(nu_log) - log c): every |lambda| times c, phases unchanged"
            else:
                new = np.log(np.exp(a) - math.log(c) / _step(entry, current))
                how = "A <- log(exp(A) - log(c) / dt): every |lambda| times c"
        fields = {"tensor": entry.tensor, "part": "all eigenvalues", "factor": c, "radius_before": rho, "how": how}
        return entry.tensor, new, fields, lambda cur: _radius(np.asarray(discovery.materialize(entry, cur)))
    part = _dense_part(entry, lambda name: current(name).shape)
    if part is None:
        return None
    rho = _part_radius(part, current)
    c = target / rho
    if c >= 1:
        return None
    new = current(part.tensor).copy()
    new[part.index] *= c
    how = f"{part.label} times c = target / radius" + (
        " (of weight_hr times the block: a projected LSTM)" if part.left else ""
    )
    fields = {"tensor": part.tensor, "part": part.label, "factor": c, "radius_before": rho, "how": how}
    return part.tensor, new, fields, lambda cur: _part_radius(part, cur)


def _still_failing(cell: bool, rows) -> str:
    """Why a rescaled tensor still fails, from its rows in the check of the new file."""
    reasons = "; ".join(f"{printable(row.name)}: {printable(reason)}" for row in rows for reason in row.reasons)
    if cell:
        return (
            f"its candidate block was rescaled to the target radius, yet the cell still fails ({reasons}); "
            "a rescale of the candidate block does not settle it, and fix never rescales gate blocks "
            "(SPEC section 8: a gate block's radius is no stability verdict): retrain, or select tensors with keys"
        )
    return (
        f"rescaled to the target radius, yet it still fails ({reasons}): "
        "lower target (a non-normal W grows transiently)"
    )


# --- writers -------------------------------------------------------------------------------------


def _safetensors_parts(path: Path) -> tuple[dict, int]:
    with open(path, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        return json.loads(fh.read(length)), 8 + length


def _write_safetensors(path: Path, out: Path, new: dict, record: dict) -> str:
    header, body = _safetensors_parts(path)
    metadata = dict(header.get("__metadata__") or {})
    metadata[METADATA_KEY] = json.dumps(record, sort_keys=True)
    header["__metadata__"] = metadata
    data = bytearray(path.read_bytes()[body:])
    for name, array in new.items():
        start, stop = (int(v) for v in header[name]["data_offsets"])
        raw = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        assert len(raw) == stop - start, name
        data[start:stop] = raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    atomic_write_bytes(out, struct.pack("<Q", len(text)) + text + bytes(data))
    return f"safetensors __metadata__[{METADATA_KEY!r}]"


def _write_numpy(path: Path, out: Path, new: dict, record: dict) -> str:
    import io  # noqa: PLC0415
    import zipfile  # noqa: PLC0415

    buffer = io.BytesIO()
    if path.suffix == ".npy":
        (array,) = new.values() or [np.load(path, allow_pickle=False)]
        np.save(buffer, array)
    else:
        with zipfile.ZipFile(path) as zf:
            compressed = any(i.compress_type != zipfile.ZIP_STORED for i in zf.infolist())
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: new.get(k, f[k]) for k in f.files}
        (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    atomic_write_bytes(out, buffer.getvalue())
    return _sidecar(out, record)


def _sidecar(out: Path, record: dict) -> str:
    side = out.with_name(out.name + SIDECAR_SUFFIX)
    write_json_atomic(side, record)
    return str(side)


def _locate(tree, prefix: str = "", depth: int = 0, out: dict | None = None) -> dict:
    """name -> (parent mapping, key) for every tensor, named as ``specdiag._weights`` names them."""
    out = {} if out is None else out
    if depth > 8:
        return out
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            out[name] = (tree, key)
        elif isinstance(value, dict) and not NON_MODEL_KEYS.search(str(key)):
            _locate(value, name, depth + 1, out)
    return out


def _write_torch(path: Path, out: Path, new: dict, record: dict, container: str | None) -> str:
    import io  # noqa: PLC0415

    import torch  # noqa: PLC0415 (only for PyTorch files, after the kind is known)

    obj = torch.load(str(path), map_location="cpu", weights_only=True)
    single = torch.is_tensor(obj)
    root = {path.stem: obj} if single else obj
    tree = root
    for part in container.split(".") if container else []:
        tree = tree[part]
    places = _locate(tree)
    for name, array in new.items():
        parent, key = places[name]
        old = parent[key]
        value = (
            torch.from_numpy(np.ascontiguousarray(array).view(np.int16)).view(torch.bfloat16)
            if old.dtype == torch.bfloat16
            else torch.from_numpy(np.ascontiguousarray(array))
        )
        parent[key] = (
            torch.nn.Parameter(value, requires_grad=old.requires_grad) if isinstance(old, torch.nn.Parameter) else value
        )
    buffer = io.BytesIO()
    torch.save(root[path.stem] if single else root, buffer)
    atomic_write_bytes(out, buffer.getvalue())
    return _sidecar(out, record)


# --- the entry point -------------------------------------------------------------------------------


def _check_paths(path: Path, out: Path | None, in_place: bool, force: bool) -> Path:
    if not path.is_file():
        raise InputError(
            f"path {str(path)!r} is not a file: fix rewrites one .safetensors, .npz, .npy or .pt/.pth/.ckpt/.bin file",
            param="path",
        )
    suffix = path.suffix.lower()
    if suffix not in (".safetensors", ".npz", ".npy", *TORCH_SUFFIXES):
        raise InputError(
            f"path {str(path)!r}: fix writes .safetensors, .npz, .npy and PyTorch (.pt/.pth/.ckpt/.bin) files, "
            f"not {suffix or 'files without a suffix'}; convert it first",
            param="path",
        )
    if in_place:
        if out is not None and out.resolve() != path.resolve():
            raise InputError("out and in_place exclude each other: give one", param="out")
        return path
    if out is None:
        raise InputError("out is required (a new file; the original is never overwritten unless in_place)", param="out")
    if out.resolve() == path.resolve():
        raise InputError(
            f"out {str(out)!r} is the input file: choose a new file, or pass in_place to overwrite it", param="out"
        )
    if out.suffix.lower() != suffix:
        raise InputError(f"out {str(out)!r} must have the input's suffix {suffix} (the format is kept)", param="out")
    if out.exists() and not force:
        raise InputError(f"out {str(out)!r} exists: choose a new file or pass force", param="out")
    return out


def fix_file(
    path: str | Path,
    *,
    out: str | Path | None = None,
    target: float | None = None,
    in_place: bool = False,
    force: bool = False,
    keys: list[str] | None = None,
    model: str = "auto",
    param: str = "auto",
    diagonal: bool = False,
    max_radius: float = 1.0,
    seq_len: float = 1000,
    max_growth: float | None = DEFAULT_MAX_GROWTH,
    workers: int | None = None,
    max_memory: int | str | None = None,
) -> FixResult:
    """Rescale every recurrence of a weights file whose ``check`` verdict fails, write the result, recheck it.

    Parameters
    ----------
    path : str or Path
        A .safetensors, .npz, .npy or PyTorch state-dict file (.pt/.pth/.ckpt/.bin).
    out : str or Path, optional
        The new file (same suffix; must not exist unless ``force``). Required unless ``in_place``.
    target : float, optional
        The radius each failing recurrence gets; default ``(1 - 0.01) * max_radius`` (the check's
        warning margin below the gate). Must lie below ``max_radius``.
    in_place : bool
        Overwrite ``path`` itself (atomically).
    force : bool
        Overwrite an existing ``out``.
    keys, model, param, diagonal, max_radius, seq_len, max_growth, workers, max_memory
        As in :func:`specdiag.check_file`: the same selection and thresholds decide what fails.

    Returns
    -------
    FixResult
        ``verdict_after`` is the check of the written file; ``not_fixed`` lists every tensor that
        still fails, with the reason.
    """
    start = time.perf_counter()
    path = Path(path)
    out_path = _check_paths(path, None if out is None else Path(out), in_place, force)
    max_radius = positive_number(max_radius, "max_radius")
    target = (1 - WARN_MARGIN) * max_radius if target is None else positive_number(target, "target")
    if target >= max_radius:
        raise InputError(
            f"target {target:g} must lie below max_radius {max_radius:g}: a radius at the gate is not a fix",
            param="target",
        )
    seq_len = whole_number(seq_len, "seq_len", maximum=10**12)

    def run_check(target_path: Path) -> CheckReport:
        return check_file(
            target_path,
            keys=keys,
            model=model,
            param=param,
            diagonal=diagonal,
            max_radius=max_radius,
            seq_len=seq_len,
            max_growth=max_growth,
            workers=workers,
            max_memory=max_memory,
        )

    before = run_check(path)
    source = open_weights(path)
    plan = discovery.plan_checks(
        source.infos, discovery.Selection(keys=keys, model=model, param=param, diagonal=diagonal)
    )
    failing = _failing_tensors(before)
    entries = {entry.name: entry for entry in plan.planned}
    stored: dict = {}
    work: dict = {}

    def current(name: str) -> np.ndarray:
        if name not in work:
            stored[name] = np.asarray(source.read(name))
            work[name] = discovery._upcast(name, stored[name])
        return work[name]

    patches, not_fixed, touched = [], [], set()
    for tensor, rows in failing.items():
        done = False
        for row in rows:
            entry = entries.get(row.name)
            if entry is None or entry.layout == "sparse":
                why = (
                    "a scipy.sparse matrix: fix does not rewrite sparse files"
                    if entry is not None
                    else "no plan entry for this row"
                )
                not_fixed.append({"tensor": tensor, "reason": why})
                done = True
                continue
            patch = _rescale_row(entry, current, target)
            if patch is None:
                continue
            name, values, fields, radius_of = patch
            work[name] = values
            touched.add(name)
            patches.append((fields, radius_of))
            done = True
        if not done:
            reasons = "; ".join(f"{printable(row.name)}: {printable(reason)}" for row in rows for reason in row.reasons)
            not_fixed.append(
                {
                    "tensor": tensor,
                    "reason": f"the radius of what fix rescales is already at most the target {target:g}, so "
                    f"rescaling it to the target cannot help ({reasons})",
                }
            )
    new = {name: work[name].astype(stored[name].dtype) for name in touched}
    as_stored = {name: discovery._upcast(name, array) for name, array in new.items()}

    def cast_or_current(name: str) -> np.ndarray:  # the values as written (after the cast to the stored dtype)
        return as_stored[name] if name in as_stored else current(name)

    rescaled = [Rescaled(**fields, radius_after=radius_of(cast_or_current)) for fields, radius_of in patches]
    record = {
        "tool": "specdiag fix",
        "source": path.name,
        "target": target,
        "thresholds": before.thresholds.to_dict(),
        "rescaled": [r.to_dict() for r in rescaled],
        "not_fixed": list(not_fixed),
    }
    if path.suffix.lower() == ".safetensors":
        where = _write_safetensors(path, out_path, new, record)
    elif path.suffix.lower() in (".npz", ".npy"):
        where = _write_numpy(path, out_path, new, record)
    else:
        where = _write_torch(path, out_path, new, record, source.container)
    after = run_check(out_path)
    fixed = {tensor for tensor in failing if not any(item["tensor"] == tensor for item in not_fixed)}
    for tensor, rows in _failing_tensors(after).items():
        if tensor in fixed:
            cell = any(getattr(entries.get(row.name), "layout", None) == "cell" for row in rows)
            not_fixed.append({"tensor": tensor, "reason": _still_failing(cell, rows)})
    return FixResult(
        source=str(path),
        out=str(out_path),
        kind=source.kind,
        target=target,
        rescaled=rescaled,
        not_fixed=not_fixed,
        unchanged=len(source.infos) - len(new),
        verdict_before=before.verdict,
        verdict_after=after.verdict,
        record=where,
        elapsed_s=time.perf_counter() - start,
        notes=list(source.notes),
    )
