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

from pathlib import Path

from ._errors import InputError
from ._text import printable
from ._weights_base import (
    SHARD_INDEX,
    SUFFIXES,
    TORCH_SUFFIXES,
    TensorInfo,
    WeightsSource,
    _describe_non_file,
    memory_budget,
    require_within_budget,
    stored_epsilon,
)
from ._weights_keras import open_h5, open_keras
from ._weights_numpy import open_npy, open_npz, open_text
from ._weights_onnx import open_onnx
from ._weights_safetensors import open_safetensors, open_sharded
from ._weights_torch import open_torch, source_from_mapping

__all__ = [
    "SUFFIXES",
    "SHARD_INDEX",
    "TensorInfo",
    "WeightsSource",
    "open_weights",
    "source_from_mapping",
    "memory_budget",
    "require_within_budget",
    "stored_epsilon",
]


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
            source = open_sharded(index)
        elif (path / "model.safetensors").is_file():
            source = open_safetensors(path / "model.safetensors")
        else:
            raise InputError(
                f"{str(path)!r} is a directory, not a weights file: give a file ({', '.join(SUFFIXES)}) or a "
                f"directory holding {SHARD_INDEX}"
            )
        source.max_memory = max_memory
        return source
    if not path.exists() and path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            raise InputError(
                f"{printable(str(path))!r} is a symbolic link loop: point it at a weights file", param="path"
            ) from None
        except OSError:
            raise InputError(
                f"{printable(str(path))!r} is a dangling symbolic link (its target does not exist)", param="path"
            ) from None
    if not path.exists():
        raise InputError(f"no such file {str(path)!r}: give a weights file ({', '.join(SUFFIXES)})")
    other = _describe_non_file(path)
    if other:
        raise InputError(f"{str(path)!r} is {other}, not a regular file: give a weights file ({', '.join(SUFFIXES)})")
    if path.stat().st_size == 0:
        raise InputError(f"{str(path)!r} is empty: expected a weights file")
    suffix = path.suffix.lower()
    if path.name.endswith(".index.json"):
        source = open_sharded(path)
    elif suffix == ".npy":
        source = open_npy(path)
    elif suffix == ".npz":
        source = open_npz(path)
    elif suffix == ".safetensors":
        source = open_safetensors(path)
    elif suffix in TORCH_SUFFIXES:
        source = open_torch(path, container)
        container = None
    elif suffix == ".onnx":
        source = open_onnx(path)
    elif suffix == ".keras":
        source = open_keras(path)
    elif suffix in (".h5", ".hdf5"):
        source = open_h5(path)
    elif suffix in (".csv", ".txt"):
        source = open_text(path, max_memory)
    else:
        raise InputError(f"unsupported file type {suffix!r}: use one of {', '.join(SUFFIXES)}")
    if container:
        raise InputError(
            f"state_dict: {printable(str(path))!r} is a flat {source.kind} file, not a nested checkpoint: drop "
            "state_dict",
            param="state_dict",
        )
    source.max_memory = max_memory
    return source
