"""safetensors files and sharded directories (model.safetensors.index.json), headers first, data on demand."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Callable

import numpy as np

from ._errors import InputError
from ._text import printable
from ._weights_base import (
    SAFETENSORS_DTYPES,
    TensorInfo,
    WeightsSource,
    _one_line,
    _read_npy_body,
)

__all__ = ["open_safetensors", "open_sharded"]


# --- safetensors ----------------------------------------------------------------------------------


def _safetensors_header(path: Path) -> tuple[dict, int]:
    """(header without __metadata__, offset of the data section), validated against the file size."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise InputError(
                f"{str(path)!r} is not a valid safetensors file (shorter than its 8-byte header length): the file is "
                "corrupt or truncated"
            )
        (length,) = struct.unpack("<Q", head)
        if length > min(size - 8, 100_000_000):
            raise InputError(
                f"{str(path)!r} is not a valid safetensors file (header length {length} exceeds the file): the file "
                "is corrupt or truncated"
            )
        raw = fh.read(length)
    try:
        header = json.loads(raw)
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
    except RecursionError:
        raise InputError(
            f"{printable(str(path))!r} has a safetensors header nested too deeply to be a header: the file is corrupt"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{str(path)!r} has a corrupt safetensors header ({_one_line(exc)}): the file is corrupt or truncated"
        ) from None
    header.pop("__metadata__", None)
    body = 8 + length
    for name, entry in header.items():
        try:
            start, stop = (int(v) for v in entry["data_offsets"])
            shape = [int(s) for s in entry["shape"]]
            str(entry["dtype"])
        except (KeyError, TypeError, ValueError):
            raise InputError(
                f"{str(path)!r} has a corrupt safetensors header entry for tensor {name!r}: the file is corrupt"
            ) from None
        if not 0 <= start <= stop <= size - body or min(shape, default=1) < 0:
            raise InputError(
                f"tensor {name!r} of {str(path)!r} lies outside the file (offsets {start}..{stop}): the file is "
                "corrupt or truncated"
            )
    return header, body


def _safetensors_dtype(name: str, code: str, path: str) -> np.dtype:
    if code not in SAFETENSORS_DTYPES:
        raise InputError(
            f"tensor {name!r} of {path!r} has safetensors dtype {code!r}, which specdiag cannot read: store it as "
            "F64, F32, F16 or BF16"
        )
    type_name = SAFETENSORS_DTYPES[code]
    if type_name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        try:
            import ml_dtypes  # noqa: PLC0415
        except ImportError:
            raise InputError(
                f"tensor {name!r} is {type_name}: reading it needs ml-dtypes (pip install 'specdiag[safetensors]')"
            ) from None
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
            raise InputError(
                f"tensor {name!r} of {str(path)!r}: shape {list(shape)} {code} needs {math.prod(shape) * itemsize} "
                f"bytes, the header gives {stop - start}: the file is corrupt"
            )

    def load(name):
        entry = header[name]
        dtype = _safetensors_dtype(name, str(entry["dtype"]), str(path))
        start, _stop = (int(v) for v in entry["data_offsets"])
        shape = tuple(int(s) for s in entry["shape"])
        with open(path, "rb") as fh:
            fh.seek(body + start)
            return _read_npy_body(fh, shape, dtype, False)

    return infos, load


def open_safetensors(path: Path) -> WeightsSource:
    infos, load = _safetensors_entries(path)
    return WeightsSource(str(path), "safetensors", infos, load)


def open_sharded(index_path: Path) -> WeightsSource:
    try:
        index = json.loads(index_path.read_text())
        weight_map = index["weight_map"]
        if not isinstance(weight_map, dict):
            raise TypeError("weight_map is not an object")
    except RecursionError:
        raise InputError(
            f"{printable(str(index_path))!r} is nested too deeply to be a safetensors index: the file is corrupt"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"{str(index_path)!r} is not a valid safetensors index ({_one_line(exc)}): expected "
            '{"weight_map": {tensor: shard file}}'
        ) from None
    shards: dict[str, tuple[dict, Callable]] = {}
    infos, owner = {}, {}
    for name, shard in weight_map.items():
        shard_path = index_path.parent / str(shard)
        if Path(str(shard)).name != str(shard):
            raise InputError(f"{str(index_path)!r} names shard {shard!r} outside its directory: refused")
        if shard not in shards:
            if not shard_path.is_file():
                raise InputError(
                    f"shard {str(shard_path)!r} listed in {str(index_path)!r} is missing: copy every shard next to "
                    "the index"
                )
            shards[shard] = _safetensors_entries(shard_path)
        shard_infos = shards[shard][0]
        if name not in shard_infos:
            raise InputError(
                f"tensor {name!r} is not in shard {str(shard_path)!r} as {str(index_path)!r} says: the shards do not "
                "match the index"
            )
        infos[name], owner[name] = shard_infos[name], shard
    return WeightsSource(
        str(index_path.parent),
        "sharded safetensors",
        infos,
        lambda name: shards[owner[name]][1](name),
        notes=[f"{len(shards)} shards indexed by {index_path.name}"],
    )
