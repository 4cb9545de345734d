"""Read recurrent weight tensors from the files people save them in, headers first, data on demand.

Supported: .npy, .npz (including ``scipy.sparse.save_npz`` files), .safetensors (one file, or a
sharded directory / ``model.safetensors.index.json``), .pt/.pth/.ckpt/.bin state dicts (PyTorch,
``weights_only=True``, memory-mapped; nested checkpoints searched two dict levels deep), TorchScript
archives (.jit or .pt: :mod:`specdiag._weights_torchscript`), ONNX (:mod:`specdiag._weights_onnx`),
Keras .keras/.h5 (:mod:`specdiag._weights_keras`), and .csv/.txt of one matrix. Nothing is
unpickled and nothing is executed.

Every reader first lists the tensors (name, shape, stored dtype, size) from the file's headers
without reading data: the .npy header (for .npz, the member's .npy header, read from the zip
stream), the safetensors JSON header, torch's memory-mapped storages. Data are read only for the
tensors a caller asks for, and a tensor whose size exceeds the memory budget is refused before
any byte of it is read. Half-precision data keep their stored dtype (bfloat16 via ``ml_dtypes``);
callers upcast. Every failure is an :class:`~specdiag._errors.InputError` naming file and tensor.
"""

from __future__ import annotations

import json
import math
import re
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import _resources as resources
from ._errors import InputError
from ._resources import format_bytes
from ._text import printable
from ._weights_keras import open_h5, open_keras
from ._weights_onnx import open_onnx
from ._weights_torchscript import is_torchscript, open_torchscript

__all__ = [
    "SUFFIXES",
    "TensorInfo",
    "WeightsSource",
    "open_weights",
    "source_from_mapping",
    "memory_budget",
    "require_within_budget",
    "stored_epsilon",
]

SUFFIXES = (".npy", ".npz", ".safetensors", ".pt", ".pth", ".ckpt", ".bin", ".jit", ".onnx", ".keras", ".h5", ".hdf5", ".csv", ".txt")
TORCH_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".jit")
SHARD_INDEX = "model.safetensors.index.json"
#: safetensors dtype codes -> NumPy dtype names (ml_dtypes provides the bfloat16 and float8 types)
SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8",
    "U64": "uint64", "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
    "C64": "complex64", "C128": "complex128",
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
            raise InputError(f"tensor {name!r} ({format_bytes(info.nbytes)}) does not fit in memory: lower max_memory or free memory") from None
        except Exception as exc:  # truncated data, zlib errors, ...
            raise InputError(f"cannot read tensor {name!r} of {self.path!r} ({type(exc).__name__}: {_one_line(exc)}): the file is corrupt or truncated") from None


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
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return None


# --- .npy / .npz ----------------------------------------------------------------------------------


def _npy_header(fh, label: str) -> tuple[tuple, np.dtype, bool]:
    """(shape, dtype, fortran_order) from an open .npy stream positioned at its start."""
    from numpy.lib import format as npy  # noqa: PLC0415

    try:
        version = npy.read_magic(fh)
    except ValueError:
        raise InputError(f"{label} is not a valid .npy array (no NumPy header): the file is corrupt or not a .npy file") from None
    try:
        readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = readers[version](fh, max_header_size=100_000)
    except Exception as exc:  # ValueError, SyntaxError, tokenize errors, RecursionError: a malformed header dict
        raise InputError(f"{label} has a corrupt .npy header ({_one_line(exc)})") from None
    if dtype.hasobject:
        raise InputError(f"{label} holds Python objects (dtype {dtype}), which would need unpickling: save numeric arrays")
    return shape, dtype, fortran


def _read_npy_body(fh, shape, dtype, fortran) -> np.ndarray:
    count = math.prod(shape)
    out = np.empty(count, dtype=dtype)
    view = memoryview(out.view(np.uint8).reshape(-1))
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


def _open_npy(path: Path) -> WeightsSource:
    name = path.stem
    with open(path, "rb") as fh:
        shape, dtype, fortran = _npy_header(fh, f"{str(path)!r}")
        offset = fh.tell()
    info = _info(name, shape, dtype, dtype.itemsize)
    size = path.stat().st_size
    if offset + info.nbytes > size:
        shown = "x".join(map(str, shape)) or "scalar"
        raise InputError(f"{printable(str(path))!r} is truncated: its header promises a {shown} {dtype} array ({format_bytes(info.nbytes)}) "
                         f"but the file holds {format_bytes(max(size - offset, 0))} of data: the file is corrupt or truncated")

    def load(_name):
        with open(path, "rb") as fh:
            fh.seek(offset)
            return _read_npy_body(fh, shape, dtype, fortran)

    return WeightsSource(str(path), "npy", {name: info}, load)


def _open_npz(path: Path) -> WeightsSource:
    if not zipfile.is_zipfile(path):
        raise InputError(f"{str(path)!r} is not a valid .npz (not a zip archive): the file is corrupt, truncated or not an .npz file")
    try:
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{str(path)!r} is not a valid .npz ({_one_line(exc)}): the file is corrupt or truncated") from None
    headers = {}
    for member in members:
        name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
        try:
            with archive.open(member) as fh:  # decompresses only the header's bytes
                headers[name] = (member, *_npy_header(fh, f"member {name!r} of {str(path)!r}"))
        except InputError:
            raise
        except Exception as exc:  # zlib errors, bad CRC, ...
            raise InputError(f"cannot read member {name!r} of {str(path)!r} ({_one_line(exc)}): the file is corrupt or truncated") from None

    def load_member(name):
        member, shape, dtype, fortran = headers[name]
        with archive.open(member) as fh:
            _npy_header(fh, name)
            return _read_npy_body(fh, shape, dtype, fortran)

    keys = set(headers)
    if {"format", "shape", "data"} <= keys and ({"indices", "indptr"} <= keys or {"row", "col"} <= keys or "offsets" in keys):
        return _sparse_npz(path, headers, load_member)
    infos = {name: _info(name, shape, dtype, dtype.itemsize) for name, (_, shape, dtype, _f) in headers.items()}
    return WeightsSource(str(path), "npz", infos, load_member)


def _sparse_npz(path: Path, headers: dict, load_member) -> WeightsSource:
    """A ``scipy.sparse.save_npz`` file: one matrix, named after the file."""
    if any(math.prod(headers[key][1]) * headers[key][2].itemsize > 1024 for key in ("format", "shape")):
        raise InputError(f"{str(path)!r} looks like a scipy.sparse file but its format/shape members are not small: the file is corrupt")
    raw = np.asarray(load_member("format")).item()
    fmt = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    shape = tuple(int(s) for s in np.asarray(load_member("shape")).reshape(-1))
    if len(shape) != 2:
        raise InputError(f"{str(path)!r} is a scipy.sparse file with shape {shape}: expected a 2-D matrix")
    data_shape, data_dtype = headers["data"][1], headers["data"][2]
    stored = sum(math.prod(h[1]) * h[2].itemsize for key, h in headers.items() if key not in ("format", "shape"))
    nnz = math.prod(data_shape)
    name = path.stem
    info = TensorInfo(name, shape, _dtype_name(data_dtype), int(stored), fmt, int(nnz))

    def load(_name):
        import scipy.sparse  # noqa: PLC0415

        arrays = {key: load_member(key) for key in headers if key not in ("format", "shape")}
        builders = {
            "csr": lambda: scipy.sparse.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape),
            "csc": lambda: scipy.sparse.csc_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape),
            "bsr": lambda: scipy.sparse.bsr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape),
            "coo": lambda: scipy.sparse.coo_matrix((arrays["data"], (arrays["row"], arrays["col"])), shape=shape),
            "dia": lambda: scipy.sparse.dia_matrix((arrays["data"], arrays["offsets"]), shape=shape),
        }
        if fmt not in builders:
            raise InputError(f"{str(path)!r} is a scipy.sparse file of unknown format {fmt!r}: use csr, csc, coo, bsr or dia")
        return builders[fmt]().tocsr()

    return WeightsSource(str(path), "scipy.sparse npz", {name: info}, load)


# --- safetensors ----------------------------------------------------------------------------------


def _safetensors_header(path: Path) -> tuple[dict, int]:
    """(header without __metadata__, offset of the data section), validated against the file size."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise InputError(f"{str(path)!r} is not a valid safetensors file (shorter than its 8-byte header length): the file is corrupt or truncated")
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, 100_000_000):
            raise InputError(f"{str(path)!r} is not a valid safetensors file (header length {length} exceeds the file): the file is corrupt or truncated")
        raw = fh.read(length)
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except RecursionError:
        raise InputError(f"{printable(str(path))!r} has a safetensors header nested too deeply to be a header: the file is corrupt") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{str(path)!r} has a corrupt safetensors header ({_one_line(exc)}): the file is corrupt or truncated") from None
    header.pop("__metadata__", None)
    body = 8 + length
    for name, entry in header.items():
        try:
            start, stop = (int(v) for v in entry["data_offsets"])
            shape = [int(s) for s in entry["shape"]]
            str(entry["dtype"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{str(path)!r} has a corrupt safetensors header entry for tensor {name!r}: the file is corrupt") from None
        if not 0 <= start <= stop <= size - body or min(shape, default=1) < 0:
            raise InputError(f"tensor {name!r} of {str(path)!r} lies outside the file (offsets {start}..{stop}): the file is corrupt or truncated")
    return header, body


def _safetensors_dtype(name: str, code: str, path: str) -> np.dtype:
    if code not in SAFETENSORS_DTYPES:
        raise InputError(f"tensor {name!r} of {path!r} has safetensors dtype {code!r}, which specdiag cannot read: store it as F64, F32, F16 or BF16")
    type_name = SAFETENSORS_DTYPES[code]
    if type_name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        try:
            import ml_dtypes  # noqa: PLC0415
        except ImportError:
            raise InputError(f"tensor {name!r} is {type_name}: reading it needs ml-dtypes (pip install 'specdiag[safetensors]')") from None
        return np.dtype(getattr(ml_dtypes, type_name))
    return np.dtype(type_name).newbyteorder("<")


def _safetensors_entries(path: Path, shard: str | None = None) -> tuple[dict, Callable]:
    header, body = _safetensors_header(path)
    infos = {}
    for name, entry in header.items():
        code = str(entry["dtype"])
        itemsize = _safetensors_dtype(name, code, str(path)).itemsize if code in SAFETENSORS_DTYPES else 1
        shape = tuple(int(s) for s in entry["shape"])
        start, stop = (int(v) for v in entry["data_offsets"])
        infos[name] = TensorInfo(name, shape, SAFETENSORS_DTYPES.get(code, code), stop - start)
        if code in SAFETENSORS_DTYPES and math.prod(shape) * itemsize != stop - start:
            raise InputError(f"tensor {name!r} of {str(path)!r}: shape {list(shape)} {code} needs {math.prod(shape) * itemsize} bytes, the header gives {stop - start}: the file is corrupt")

    def load(name):
        entry = header[name]
        dtype = _safetensors_dtype(name, str(entry["dtype"]), str(path))
        start, _stop = (int(v) for v in entry["data_offsets"])
        shape = tuple(int(s) for s in entry["shape"])
        with open(path, "rb") as fh:
            fh.seek(body + start)
            return _read_npy_body(fh, shape, dtype, False)

    return infos, load


def _open_safetensors(path: Path) -> WeightsSource:
    infos, load = _safetensors_entries(path)
    return WeightsSource(str(path), "safetensors", infos, load)


def _open_sharded(index_path: Path) -> WeightsSource:
    try:
        index = json.loads(index_path.read_text())
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError("weight_map is not an object")
    except RecursionError:
        raise InputError(f"{printable(str(index_path))!r} is nested too deeply to be a safetensors index: the file is corrupt") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{str(index_path)!r} is not a valid safetensors index ({_one_line(exc)}): expected {{\"weight_map\": {{tensor: shard file}}}}") from None
    shards: dict[str, tuple[dict, Callable]] = {}
    infos, owner = {}, {}
    for name, shard in weight_map.items():
        shard_path = index_path.parent / str(shard)
        if Path(str(shard)).name != str(shard):
            raise InputError(f"{str(index_path)!r} names shard {shard!r} outside its directory: refused")
        if shard not in shards:
            if not shard_path.is_file():
                raise InputError(f"shard {str(shard_path)!r} listed in {str(index_path)!r} is missing: copy every shard next to the index")
            shards[shard] = _safetensors_entries(shard_path)
        shard_infos = shards[shard][0]
        if name not in shard_infos:
            raise InputError(f"tensor {name!r} is not in shard {str(shard_path)!r} as {str(index_path)!r} says: the shards do not match the index")
        infos[name], owner[name] = shard_infos[name], shard
    return WeightsSource(str(index_path.parent), "sharded safetensors", infos, lambda name: shards[owner[name]][1](name), notes=[f"{len(shards)} shards indexed by {index_path.name}"])


# --- torch ----------------------------------------------------------------------------------------


def _torch_to_numpy(tensor) -> np.ndarray:
    import torch  # noqa: PLC0415

    t = tensor.detach().cpu()
    if t.dtype == torch.bfloat16:
        import ml_dtypes  # noqa: PLC0415

        return t.contiguous().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    if t.is_complex() or t.is_floating_point() or t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool):
        return t.contiguous().numpy()
    raise InputError(f"tensor has torch dtype {t.dtype}, which specdiag cannot read: store float32, float16 or bfloat16")


def _is_tensor(value) -> bool:
    return type(value).__name__ in ("Tensor", "Parameter") and hasattr(value, "shape") and hasattr(value, "dtype") or isinstance(value, np.ndarray)


def _flatten(tree, prefix: str = "", depth: int = 0, out: dict | None = None) -> dict:
    """name -> tensor for every tensor in nested dicts (names joined by '.'); optimizer state skipped."""
    out = {} if out is None else out
    if depth > 8:
        return out
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if _is_tensor(value):
            out[name] = value
        elif isinstance(value, Mapping) and not NON_MODEL_KEYS.search(str(key)):
            _flatten(value, name, depth + 1, out)
    return out


def _chosen_container(obj: Mapping, container: str, label: str) -> tuple[dict, str]:
    """The tensors under key path ``container`` ("ema", "a.b") of a nested checkpoint."""
    node: Any = obj
    for part in container.split("."):
        if not isinstance(node, Mapping) or part not in node:
            keys = ", ".join(printable(k) for k in (node.keys() if isinstance(node, Mapping) else []))
            raise InputError(f"state_dict: {printable(label)} has no {printable(container)!r} (keys here: {keys or 'none'})", param="state_dict")
        node = node[part]
    if not isinstance(node, Mapping):
        raise InputError(f"state_dict: {printable(label)}[{printable(container)!r}] is a {type(node).__name__}, not a dict of tensors", param="state_dict")
    return _flatten(node), container


def _find_state_dict(obj: Mapping, label: str, container: str | None = None) -> tuple[dict, str | None]:
    """The tensors of a (possibly nested) checkpoint and the key path they came from.

    Searches the top level and up to two dict levels below it; prefers the usual keys
    (``model_state_dict``, ``state_dict``, ...) and never takes optimizer state. ``container``
    chooses the key path explicitly (``"ema"``).
    """
    if container:
        return _chosen_container(obj, container, label)
    direct = {str(k): v for k, v in obj.items() if _is_tensor(v)}
    if direct:
        return _flatten(obj), None
    candidates = []
    for key, value in obj.items():
        if not isinstance(value, Mapping) or NON_MODEL_KEYS.search(str(key)):
            continue
        if any(_is_tensor(v) for v in value.values()):
            candidates.append((str(key), value))
            continue
        for key2, value2 in value.items():
            if isinstance(value2, Mapping) and not NON_MODEL_KEYS.search(str(key2)) and any(_is_tensor(v) for v in value2.values()):
                candidates.append((f"{key}.{key2}", value2))
    if not candidates:
        return {}, None
    rank = {k: i for i, k in enumerate(MODEL_KEYS)}
    if not any(kv[0].split(".")[-1] in rank for kv in candidates):
        # parts of one model ({"enc": ..., "dec": ...}), not alternatives: every part, named by its key
        merged: dict = {}
        for path, tree in candidates:
            _flatten(tree, path, 1, merged)
        return merged, None
    candidates.sort(key=lambda kv: rank.get(kv[0].split(".")[-1], len(rank)))
    path, tree = candidates[0]
    return _flatten(tree), path


def _open_torch(path: Path, container: str | None = None) -> WeightsSource:
    # the file's kind first: a file that is no PyTorch file at all is said to be so, torch or not
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if not (magic.startswith(b"PK") or magic[:1] == b"\x80"):
        raise InputError(f"{str(path)!r} is not a PyTorch file (neither a torch.save zip archive nor a legacy pickle): the file is corrupt or of another type")
    if magic.startswith(b"PK") and is_torchscript(path):
        return open_torchscript(path)
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        raise InputError(f"reading {path.suffix} files needs PyTorch (pip install torch), or save the weights as .npz/.safetensors") from None
    try:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc).lower():
                raise
            obj = torch.load(str(path), map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except Exception as exc:
        text = str(exc)
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found or "weights_only" in text:
            what = f" ({printable(found.group(1))})" if found else ""
            raise InputError(
                f"{printable(str(path))!r} holds code or a pickled Python object{what}, not only tensors, and was not loaded "
                f"(specdiag never runs code from a file): save model.state_dict() instead (torch.save(model.state_dict(), path))"
            ) from None
        raise InputError(f"cannot read {str(path)!r} with torch.load ({_one_line(exc)}): the file is corrupt or not a PyTorch file") from None
    if _is_tensor(obj):
        obj = {path.stem: obj}
    if not isinstance(obj, Mapping):
        raise InputError(f"{str(path)!r} holds a {type(obj).__name__}, not a tensor or a state dict: save model.state_dict()")
    return _source_from_tree(obj, str(path), "torch state dict", container)


def _source_from_tree(obj: Mapping, label: str, kind: str, container: str | None = None) -> WeightsSource:
    tensors, container = _find_state_dict(obj, label, container)
    infos = {}
    for name, value in tensors.items():
        if isinstance(value, np.ndarray):
            infos[name] = _info(name, value.shape, value.dtype, value.dtype.itemsize)
        else:
            infos[name] = _info(name, tuple(value.shape), value.dtype, value.element_size())

    def load(name):
        value = tensors[name]
        return value if isinstance(value, np.ndarray) else _torch_to_numpy(value)

    notes = [f"tensors found in checkpoint[{container!r}]"] if container else []
    return WeightsSource(label, kind, infos, load, container=container, notes=notes)


def source_from_mapping(mapping: Mapping, label: str = "<state_dict>", *, container: str | None = None) -> WeightsSource:
    """A source over an in-memory mapping of name -> torch tensor / NumPy array (nested dicts searched).

    Parameters
    ----------
    mapping : Mapping
        A ``state_dict()``, a nested checkpoint dict, or name -> array.
    label : str
        How the source is named in reports.
    container : str, optional
        Key path of the state dict to use in a nested checkpoint ("ema").

    Returns
    -------
    WeightsSource
    """
    if not isinstance(mapping, Mapping):
        raise InputError(f"state_dict must be a mapping of names to tensors, got {type(mapping).__name__}", param="state_dict")
    return _source_from_tree(mapping, label, "state dict", container)


# --- text -----------------------------------------------------------------------------------------


def _open_text(path: Path, max_memory: int | None) -> WeightsSource:
    name = path.stem
    size = path.stat().st_size
    # parsed as float64, a text matrix takes at most 4x its file size (2 bytes or more per entry)
    require_within_budget(TensorInfo(name, (), "text", size), 4 * size, max_memory, what="parsing the text")
    try:
        text = path.read_text()
        array = np.loadtxt(path, delimiter="," if "," in text else None, ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {str(path)!r} as a text matrix ({_one_line(exc)}): one row per line, numbers separated by commas or spaces") from None
    return WeightsSource(str(path), "text", {name: _info(name, array.shape, array.dtype, array.dtype.itemsize)}, lambda _name: array)


# --- entry point ----------------------------------------------------------------------------------


def open_weights(path: Path | str, *, max_memory: int | None = None, container: str | None = None) -> WeightsSource:
    """Open a weights file (or a sharded safetensors directory) and read its headers only.

    Parameters
    ----------
    path : str or Path
        .npy, .npz, .safetensors, a directory holding ``model.safetensors.index.json`` (or that
        index file), .pt/.pth/.ckpt/.bin (needs torch), .csv/.txt.
    max_memory : int, optional
        Bytes: any tensor larger than this is refused when read (default: no limit here; the
        check applies :func:`memory_budget`, shared with every command via specdiag._resources).
    container : str, optional
        Key path of the state dict to read in a nested checkpoint ("ema", "a.b").

    Returns
    -------
    WeightsSource

    Raises
    ------
    InputError
        Missing, empty, unreadable or unsupported files, in one line naming the file.
    """
    path = Path(path)
    if path.is_dir():
        index = path / SHARD_INDEX
        if index.is_file():
            source = _open_sharded(index)
        elif (path / "model.safetensors").is_file():
            source = _open_safetensors(path / "model.safetensors")
        else:
            raise InputError(f"{str(path)!r} is a directory, not a weights file: give a file ({', '.join(SUFFIXES)}) or a directory holding {SHARD_INDEX}")
        source.max_memory = max_memory
        return source
    if not path.exists() and path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            raise InputError(f"{printable(str(path))!r} is a symbolic link loop: point it at a weights file", param="path") from None
        except OSError:
            raise InputError(f"{printable(str(path))!r} is a dangling symbolic link (its target does not exist)", param="path") from None
    if not path.exists():
        raise InputError(f"no such file {str(path)!r}: give a weights file ({', '.join(SUFFIXES)})")
    other = _describe_non_file(path)
    if other:
        raise InputError(f"{str(path)!r} is {other}, not a regular file: give a weights file ({', '.join(SUFFIXES)})")
    if path.stat().st_size == 0:
        raise InputError(f"{str(path)!r} is empty: expected a weights file")
    suffix = path.suffix.lower()
    if path.name.endswith(".index.json"):
        source = _open_sharded(path)
    elif suffix == ".npy":
        source = _open_npy(path)
    elif suffix == ".npz":
        source = _open_npz(path)
    elif suffix == ".safetensors":
        source = _open_safetensors(path)
    elif suffix in TORCH_SUFFIXES:
        source = _open_torch(path, container)
        container = None
    elif suffix == ".onnx":
        source = open_onnx(path)
    elif suffix == ".keras":
        source = open_keras(path)
    elif suffix in (".h5", ".hdf5"):
        source = open_h5(path)
    elif suffix in (".csv", ".txt"):
        source = _open_text(path, max_memory)
    else:
        raise InputError(f"unsupported file type {suffix!r}: use one of {', '.join(SUFFIXES)}")
    if container:
        raise InputError(f"state_dict: {printable(str(path))!r} is a flat {source.kind} file, not a nested checkpoint: drop state_dict", param="state_dict")
    source.max_memory = max_memory
    return source
