"""What every weights reader shares: the header-only :class:`TensorInfo`, the lazy :class:`WeightsSource`,
the memory budget, stored-dtype epsilons and small helpers (one module per format reads into these)."""

from __future__ import annotations

import math
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _resources as resources
from ._errors import InputError
from ._resources import format_bytes

__all__ = ["TensorInfo", "WeightsSource", "memory_budget", "require_within_budget", "stored_epsilon"]

SUFFIXES = (
    ".npy",
    ".npz",
    ".safetensors",
    ".pt",
    ".pth",
    ".ckpt",
    ".bin",
    ".jit",
    ".onnx",
    ".keras",
    ".h5",
    ".hdf5",
    ".csv",
    ".txt",
)
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".jit")
SHARD_INDEX = "model.safetensors.index.json"
#: safetensors dtype codes -> NumPy dtype names (ml_dtypes provides the bfloat16 and float8 types)
SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
    "C64": "complex64",
    "C128": "complex128",
}
#: checkpoint keys never searched for weights (optimizer moments have the weights' shapes)
NON_MODEL_KEYS = re.compile(r"optim|scheduler|scaler|lr_|callbacks|loops|hyper|hparams|rng|grad", re.IGNORECASE)
#: preferred containers of a nested checkpoint, in order
MODEL_KEYS = ("model_state_dict", "state_dict", "model", "module", "net", "network", "params", "weights", "ema")


@dataclass(frozen=True)
class TensorInfo:
    """What a header says about one tensor: enough to select it and budget it, no data."""

    name: str
    shape: tuple
    dtype: str
    nbytes: int
    #: the sparse format ("csr", "coo", ...) for a scipy.sparse matrix, else None
    sparse: str | None = None
    #: stored entries (nnz for sparse)
    entries: int = 0


@dataclass
class WeightsSource:
    """The tensors of one file (or mapping): headers in ``infos``, data through :meth:`read`.

    Attributes
    ----------
    path : str
        The file (or ``"<state_dict>"``).
    kind : str
        What it was read as ("npz", "scipy.sparse npz", "safetensors", "sharded safetensors",
        "torch state dict", ...).
    container : str or None
        For a nested checkpoint, the key path the tensors came from (``"model_state_dict"``).
    infos : dict
        name -> :class:`TensorInfo`, in file order.
    """

    path: str
    kind: str
    infos: dict
    loader: Callable[[str], Any]
    container: str | None = None
    max_memory: int | None = None
    notes: list = field(default_factory=list)
    #: tensor name -> cell facts the names cannot carry (ONNX: GRU linear_before_reset, RNN activation)
    hints: dict = field(default_factory=dict)
    #: (name, shape, reason) of recurrences the reader found but cannot provide (unresolvable ONNX weights)
    unchecked: list = field(default_factory=list)

    def read(self, name: str):
        """The stored data of tensor ``name`` (NumPy array, or a scipy.sparse matrix), budget-checked."""
        info = self.infos[name]
        require_within_budget(info, info.nbytes, self.max_memory, what="reading it")
        try:
            return self.loader(name)
        except InputError:
            raise
        except MemoryError:
            raise InputError(
                f"tensor {name!r} ({format_bytes(info.nbytes)}) does not fit in memory: lower max_memory or free memory"
            ) from None
        except Exception as exc:  # truncated data, zlib errors, ...
            raise InputError(
                f"cannot read tensor {name!r} of {self.path!r} ({type(exc).__name__}: {_one_line(exc)}): the file is "
                "corrupt or truncated"
            ) from None


# --- memory budget --------------------------------------------------------------------------------


def memory_budget(max_memory=None) -> int:
    """The memory budget in bytes (:func:`specdiag._resources.memory_budget`: ``max_memory``, else
    ``$SPECDIAG_MAX_MEMORY``, else half the available memory)."""
    return resources.memory_budget(max_memory)[0]


def require_within_budget(info: TensorInfo, needed: int, budget: int | None, *, what: str) -> None:
    """Refuse (InputError, one line) when ``needed`` bytes for ``info`` exceed ``budget``."""
    if budget is not None and needed > budget:
        shape = "x".join(map(str, info.shape)) or "scalar"
        raise InputError(
            f"max_memory: tensor {info.name!r} ({shape} {info.dtype}, {format_bytes(info.nbytes)} stored) needs about "
            f"{format_bytes(needed)} for {what}, over the memory budget of {format_bytes(budget)}: raise max_memory "
            f"or select other tensors",
            param="max_memory",
        )


def stored_epsilon(dtype: str) -> float:
    """Machine epsilon of a stored dtype name (float64 for integers and unknown types).

    Examples
    --------
    >>> stored_epsilon("bfloat16")
    0.0078125
    """
    try:  # NumPy's own float types first: importing ml_dtypes costs seconds on a cold start
        return float(np.finfo(np.dtype(dtype)).eps)
    except (TypeError, ValueError):
        pass
    try:
        import ml_dtypes  # noqa: PLC0415 (optional: bfloat16 and float8 types)

        return float(ml_dtypes.finfo(dtype).eps)
    except Exception:
        return float(np.finfo(np.float64).eps)


# --- helpers --------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _dtype_name(dtype) -> str:
    return str(getattr(dtype, "name", dtype)).replace("torch.", "")


def _info(name: str, shape, dtype, itemsize: int, sparse: str | None = None, entries: int | None = None) -> TensorInfo:
    shape = tuple(int(s) for s in shape)
    count = math.prod(shape) if entries is None else entries
    return TensorInfo(name, shape, _dtype_name(dtype), int(count) * int(itemsize), sparse, int(count))


def _describe_non_file(path: Path) -> str | None:
    """What a path is when it is not a regular file ("a directory", "a FIFO", ...), or None."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return what
    return None


def _read_npy_body(fh, shape, dtype, fortran) -> np.ndarray:
    count = math.prod(shape)
    out = np.empty(count, dtype=dtype)
    view = out.view(np.uint8).reshape(-1).data  # a writable memoryview over the bytes of out
    got = 0
    while got < view.nbytes:
        chunk = fh.readinto(view[got:]) if hasattr(fh, "readinto") else None
        if chunk is None:
            data = fh.read(view.nbytes - got)
            chunk = len(data)
            view[got : got + chunk] = data
        if not chunk:
            raise EOFError(f"array data end after {got} of {view.nbytes} bytes")
        got += chunk
    return out.reshape(shape, order="F" if fortran else "C")
