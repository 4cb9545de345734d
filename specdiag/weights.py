"""Read recurrent weight tensors from the files people save them in.

.npy, .npz, .safetensors (the ``safetensors`` package; bfloat16 decoded by hand since NumPy has no
such type), .pt/.pth (only when PyTorch is installed), and .csv/.txt of one matrix. Half-precision
tensors are upcast to float32, never below. Every failure is an InputError naming file and tensor.
"""

from __future__ import annotations

import fnmatch
import json
import struct
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["SUFFIXES", "read_tensors", "select_tensors"]

SUFFIXES = (".npy", ".npz", ".safetensors", ".pt", ".pth", ".csv", ".txt")


def _upcast(name: str, a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "c":
        return a.astype(np.complex128)
    if a.dtype.kind in "iub" or a.dtype == np.float16:
        return a.astype(np.float32 if a.dtype == np.float16 else np.float64)
    if a.dtype.kind != "f":
        raise InputError(f"tensor {name!r} has dtype {a.dtype}, not a number type: select numeric tensors with --key")
    return a


def _bf16_to_float32(raw: bytes, shape) -> np.ndarray:
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).reshape(shape)


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file  # noqa: PLC0415
    except ImportError:
        raise InputError("reading .safetensors needs the safetensors package: pip install 'specdiag[safetensors]'") from None
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types (and TypeError for bf16)
        if "bf16" in str(exc).lower() or "bfloat16" in str(exc).lower() or "BF16" in str(exc):
            return _read_safetensors_raw(path)
        raise InputError(f"cannot read {str(path)!r} as safetensors ({exc}): the file is corrupt or truncated") from None


def _read_safetensors_raw(path: Path) -> dict[str, np.ndarray]:
    """Header-driven reader used for bfloat16 tensors (the numpy API has no bfloat16)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    dtypes = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, stop = info["data_offsets"]
        raw = body[start:stop]
        if info["dtype"] == "BF16":
            out[name] = _bf16_to_float32(raw, info["shape"])
        else:
            out[name] = np.frombuffer(raw, dtype=dtypes[info["dtype"]]).reshape(info["shape"])
    return out


def _read_torch(path: Path) -> dict[str, np.ndarray]:
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        raise InputError(f"reading {path.suffix} files needs PyTorch (pip install torch), or save the weights as .npz/.safetensors") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InputError(f"cannot read {str(path)!r} with torch.load ({exc})") from None
    if isinstance(obj, torch.Tensor):
        obj = {path.stem: obj}
    if not isinstance(obj, dict):
        raise InputError(f"{str(path)!r} holds a {type(obj).__name__}, not a tensor or a state dict")
    out = {}
    for name, value in obj.items():
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu()
            if t.dtype in (torch.bfloat16, torch.float16):
                t = t.float()
            out[str(name)] = t.numpy()
    return out


def read_tensors(path: Path | str) -> dict[str, np.ndarray]:
    """All tensors in a file, by name (a single-array file is named after the file's stem)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file {str(path)!r}: give a weights file ({', '.join(SUFFIXES)})")
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise InputError(f"{str(path)!r} is empty: expected a weights file")
    try:
        if suffix == ".npy":
            return {path.stem: np.load(path, allow_pickle=False)}
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {name: archive[name] for name in archive.files}
        if suffix == ".safetensors":
            return _read_safetensors(path)
        if suffix in (".pt", ".pth"):
            return _read_torch(path)
        if suffix in (".csv", ".txt"):
            text = path.read_text()
            delimiter = "," if "," in text else None
            return {path.stem: np.loadtxt(path, delimiter=delimiter, ndmin=2)}
    except InputError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, EOFError, pickle refusal, ...
        raise InputError(f"cannot read {str(path)!r} ({type(exc).__name__}: {exc}): the file is corrupt, truncated or not a {suffix} file") from None
    raise InputError(f"unsupported file type {suffix!r}: use one of {', '.join(SUFFIXES)}")


def select_tensors(tensors: dict[str, np.ndarray], keys: list[str] | None, diagonal: bool) -> dict[str, np.ndarray]:
    """Tensors to check: those matching --key (name or glob), else every square 2-D tensor
    (and, with --diagonal, every 1-D tensor); upcast and checked for NaN/inf."""
    if keys:
        chosen = {name: a for name, a in tensors.items() if any(name == k or fnmatch.fnmatchcase(name, k) for k in keys)}
        if not chosen:
            raise InputError(f"no tensor matches --key {', '.join(keys)}: available: {', '.join(sorted(tensors)) or 'none'}")
        for name, a in chosen.items():
            if not _is_candidate(a, diagonal):
                want = "a square 2-D matrix or a 1-D diagonal" if diagonal else "a square 2-D matrix (or use --diagonal for a 1-D vector)"
                raise InputError(f"tensor {name!r} has shape {tuple(np.shape(a))}: need {want}")
    else:
        chosen = {name: a for name, a in tensors.items() if _is_candidate(a, diagonal)}
        if not chosen:
            shapes = ", ".join(f"{n} {tuple(np.shape(a))}" for n, a in tensors.items()) or "no tensors"
            raise InputError(f"no square 2-D tensor{' or 1-D vector' if diagonal else ''} found ({shapes}): select one with --key")
    out = {}
    for name, a in chosen.items():
        a = _upcast(name, a)
        bad = ~np.isfinite(a)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise InputError(f"tensor {name!r} has {int(bad.sum())} NaN/inf entries (first at index {where}): fix or drop it")
        out[name] = a
    return out


def _is_candidate(a, diagonal: bool) -> bool:
    shape = np.shape(a)
    return (len(shape) == 2 and shape[0] == shape[1] and shape[0] >= 1) or (diagonal and len(shape) == 1 and shape[0] >= 1)
