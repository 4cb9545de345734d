"""TorchScript archives (``torch.jit.save``) read without running them.

``torch.jit.load`` executes the archive's code; ``torch.load`` refuses it. A TorchScript archive is
a zip whose ``data.pkl`` pickles the module tree (``__torch__.*`` objects holding their parameters as
tensors rebuilt from ``data/<key>``). Here that pickle is read by a restricted unpickler: tensor
rebuilds and storages become NumPy arrays, ``__torch__`` classes become inert attribute holders,
and any other global is refused, so no code from the file can run. Parameters are named by their
attribute path (``lstm.weight_hh_l0``). When the archive holds something else, the error says it
is TorchScript and how to export a state dict.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from pathlib import Path

import numpy as np

from ._errors import InputError
from ._text import printable

__all__ = ["is_torchscript", "open_torchscript"]

STORAGE_DTYPES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
EXPORT_HINT = (
    "export its weights without TorchScript: torch.save(torch.jit.load(path).state_dict(), 'weights.pt') "
    "in a trusted environment, then check weights.pt"
)


class _Module:
    """An inert stand-in for a pickled ``__torch__`` object: keeps its state, runs nothing."""

    def __setstate__(self, state) -> None:
        self.state = state


class _Storage:
    def __init__(self, dtype: str):
        self.dtype = dtype


def is_torchscript(path: Path) -> bool:
    """A zip holding ``constants.pkl`` or a ``code/`` folder (what torch.jit.save writes)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        import ml_dtypes  # noqa: PLC0415 (optional: bfloat16 storages only)

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name).newbyteorder("<")


class _Reader(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str):
        import io  # noqa: PLC0415 (tiny)

        super().__init__(io.BytesIO(data))
        self.archive, self.prefix = archive, prefix

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, *_: data
        if module == "torch" and name in STORAGE_DTYPES:
            return _Storage(STORAGE_DTYPES[name])
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch.jit._pickle" and (name.startswith("build_") or name == "restore_type_tag"):
            return lambda value, *_: value
        if module.startswith("__torch__"):
            return type(name, (_Module,), {})
        raise pickle.UnpicklingError(f"global {module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _Storage)):
            raise pickle.UnpicklingError("unexpected persistent id")
        raw = self.archive.read(f"{self.prefix}/data/{pid[2]}")
        return np.frombuffer(raw, dtype=_dtype(pid[1].dtype))


def _rebuild_tensor(storage, offset, size, stride, *_):
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if not size:
        return np.array(storage[offset])
    flat = storage[int(offset) :]
    item = flat.dtype.itemsize
    return np.lib.stride_tricks.as_strided(flat, shape=size, strides=tuple(s * item for s in stride)).copy()


def _walk(obj, prefix: str, out: dict, depth: int = 0) -> None:
    if depth > 64:
        return
    state = obj.state if isinstance(obj, _Module) else obj
    if not isinstance(state, dict):
        return
    for key, value in state.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, np.ndarray):
            out[name] = value
        elif isinstance(value, (_Module, dict)):
            _walk(value, name, out, depth + 1)


def open_torchscript(path: Path):
    """A :class:`~specdiag._weights.WeightsSource` over a TorchScript archive's parameters (nothing run)."""
    from ._weights_torch import source_from_tree  # noqa: PLC0415 (cycle: _weights_torch dispatches here)

    label = printable(str(path))
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1)
            tree = _Reader(archive.read(pkl), archive, pkl.rsplit("/", 1)[0]).load()
    except (
        StopIteration,
        pickle.UnpicklingError,
        KeyError,
        ValueError,
        TypeError,
        EOFError,
        AttributeError,
        zipfile.BadZipFile,
    ) as exc:
        raise InputError(
            f"{label!r} is a TorchScript archive whose weights cannot be read without running its code "
            f"({type(exc).__name__}: {printable(str(exc))[:120]}): {EXPORT_HINT}",
            param="path",
        ) from None
    tensors: dict = {}
    _walk(tree, "", tensors)
    if not tensors:
        raise InputError(
            f"{label!r} is a TorchScript archive with no parameter tensors found: {EXPORT_HINT}", param="path"
        )
    source = source_from_tree(tensors, str(path), "TorchScript archive (read without running it)")
    return source
