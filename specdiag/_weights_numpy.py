"""NumPy files (.npy, .npz incl. scipy.sparse.save_npz) and text matrices (.csv/.txt), headers first."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from ._errors import InputError
from ._resources import format_bytes
from ._text import printable
from ._weights_base import (
    TensorInfo,
    WeightsSource,
    _dtype_name,
    _info,
    _one_line,
    _read_npy_body,
    require_within_budget,
)

__all__ = ["open_npy", "open_npz", "open_text"]


# --- .npy / .npz ----------------------------------------------------------------------------------


def _npy_header(fh, label: str) -> tuple[tuple, np.dtype, bool]:
    """(shape, dtype, fortran_order) from an open .npy stream positioned at its start."""
    from numpy.lib import format as npy  # noqa: PLC0415

    try:
        version = npy.read_magic(fh)
    except ValueError:
        raise InputError(
            f"{label} is not a valid .npy array (no NumPy header): the file is corrupt or not a .npy file"
        ) from None
    try:
        readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = readers[version](fh, max_header_size=100_000)
    except Exception as exc:  # ValueError, SyntaxError, tokenize errors, RecursionError: a malformed header dict
        raise InputError(f"{label} has a corrupt .npy header ({_one_line(exc)})") from None
    if dtype.hasobject:
        raise InputError(
            f"{label} holds Python objects (dtype {dtype}), which would need unpickling: save numeric arrays"
        )
    return shape, dtype, fortran


def open_npy(path: Path) -> WeightsSource:
    name = path.stem
    with open(path, "rb") as fh:
        shape, dtype, fortran = _npy_header(fh, f"{str(path)!r}")
        offset = fh.tell()
    info = _info(name, shape, dtype, dtype.itemsize)
    size = path.stat().st_size
    if offset + info.nbytes > size:
        shown = "x".join(map(str, shape)) or "scalar"
        raise InputError(
            f"{printable(str(path))!r} is truncated: its header promises a {shown} {dtype} array "
            f"({format_bytes(info.nbytes)}) "
            f"but the file holds {format_bytes(max(size - offset, 0))} of data: the file is corrupt or truncated"
        )

    def load(_name):
        with open(path, "rb") as fh:
            fh.seek(offset)
            return _read_npy_body(fh, shape, dtype, fortran)

    return WeightsSource(str(path), "npy", {name: info}, load)


def open_npz(path: Path) -> WeightsSource:
    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{str(path)!r} is not a valid .npz (not a zip archive): the file is corrupt, truncated or not an .npz file"
        )
    try:
        archive = zipfile.ZipFile(path)
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            f"{str(path)!r} is not a valid .npz ({_one_line(exc)}): the file is corrupt or truncated"
        ) from None
    headers = {}
    for member in members:
        name = member.filename[:-4] if member.filename.endswith(".npy") else member.filename
        try:
            with archive.open(member) as fh:  # decompresses only the header's bytes
                headers[name] = (member, *_npy_header(fh, f"member {name!r} of {str(path)!r}"))
        except InputError:
            raise
        except Exception as exc:  # zlib errors, bad CRC, ...
            raise InputError(
                f"cannot read member {name!r} of {str(path)!r} ({_one_line(exc)}): the file is corrupt or truncated"
            ) from None

    def load_member(name):
        member, shape, dtype, fortran = headers[name]
        with archive.open(member) as fh:
            _npy_header(fh, name)
            return _read_npy_body(fh, shape, dtype, fortran)

    keys = set(headers)
    if {"format", "shape", "data"} <= keys and (
        {"indices", "indptr"} <= keys or {"row", "col"} <= keys or "offsets" in keys
    ):
        return _sparse_npz(path, headers, load_member)
    infos = {name: _info(name, shape, dtype, dtype.itemsize) for name, (_, shape, dtype, _f) in headers.items()}
    return WeightsSource(str(path), "npz", infos, load_member)


def _sparse_npz(path: Path, headers: dict, load_member) -> WeightsSource:
    """A ``scipy.sparse.save_npz`` file: one matrix, named after the file."""
    if any(math.prod(headers[key][1]) * headers[key][2].itemsize > 1024 for key in ("format", "shape")):
        raise InputError(
            f"{str(path)!r} looks like a scipy.sparse file but its format/shape members are not small: the file is "
            "corrupt"
        )
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
            raise InputError(
                f"{str(path)!r} is a scipy.sparse file of unknown format {fmt!r}: use csr, csc, coo, bsr or dia"
            )
        return builders[fmt]().tocsr()

    return WeightsSource(str(path), "scipy.sparse npz", {name: info}, load)


# --- text -----------------------------------------------------------------------------------------


def open_text(path: Path, max_memory: int | None) -> WeightsSource:
    name = path.stem
    size = path.stat().st_size
    # parsed as float64, a text matrix takes at most 4x its file size (2 bytes or more per entry)
    require_within_budget(TensorInfo(name, (), "text", size), 4 * size, max_memory, what="parsing the text")
    try:
        text = path.read_text()
        array = np.loadtxt(path, delimiter="," if "," in text else None, ndmin=2)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"cannot read {str(path)!r} as a text matrix ({_one_line(exc)}): one row per line, numbers separated by "
            "commas or spaces"
        ) from None
    return WeightsSource(
        str(path), "text", {name: _info(name, array.shape, array.dtype, array.dtype.itemsize)}, lambda _name: array
    )
