"""PyTorch state dicts (.pt/.pth/.ckpt/.bin: torch.load(weights_only=True, mmap=True)) and in-memory
mappings; nested checkpoints searched, TorchScript archives handed to :mod:`specdiag._weights_torchscript`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ._errors import InputError
from ._text import printable
from ._weights_torchscript import is_torchscript, open_torchscript
from ._weights_base import (
    MODEL_KEYS,
    NON_MODEL_KEYS,
    WeightsSource,
    _info,
    _one_line,
)

__all__ = ["open_torch", "source_from_mapping", "source_from_tree"]


# --- torch ----------------------------------------------------------------------------------------


def _torch_to_numpy(tensor) -> np.ndarray:
    import torch  # noqa: PLC0415

    t = tensor.detach().cpu()
    if t.dtype == torch.bfloat16:
        import ml_dtypes  # noqa: PLC0415

        return t.contiguous().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    if (
        t.is_complex()
        or t.is_floating_point()
        or t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool)
    ):
        return t.contiguous().numpy()
    raise InputError(
        f"tensor has torch dtype {t.dtype}, which specdiag cannot read: store float32, float16 or bfloat16"
    )


def _is_tensor(value) -> bool:
    return (
        type(value).__name__ in ("Tensor", "Parameter")
        and hasattr(value, "shape")
        and hasattr(value, "dtype")
        or isinstance(value, np.ndarray)
    )


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
            raise InputError(
                f"state_dict: {printable(label)} has no {printable(container)!r} (keys here: {keys or 'none'})",
                param="state_dict",
            )
        node = node[part]
    if not isinstance(node, Mapping):
        raise InputError(
            f"state_dict: {printable(label)}[{printable(container)!r}] is a {type(node).__name__}, not a dict of "
            "tensors",
            param="state_dict",
        )
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
            if (
                isinstance(value2, Mapping)
                and not NON_MODEL_KEYS.search(str(key2))
                and any(_is_tensor(v) for v in value2.values())
            ):
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


def open_torch(path: Path, container: str | None = None) -> WeightsSource:
    # the file's kind first: a file that is no PyTorch file at all is said to be so, torch or not
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if not (magic.startswith(b"PK") or magic[:1] == b"\x80"):
        raise InputError(
            f"{str(path)!r} is not a PyTorch file (neither a torch.save zip archive nor a legacy pickle): the file is "
            "corrupt or of another type"
        )
    if magic.startswith(b"PK") and is_torchscript(path):
        return open_torchscript(path)
    try:
        import torch  # noqa: PLC0415
    except ImportError:
        raise InputError(
            f"reading {path.suffix} files needs PyTorch (pip install torch), or save the weights as .npz/.safetensors"
        ) from None
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
                f"{printable(str(path))!r} holds code or a pickled Python object{what}, not only tensors, and was not "
                "loaded (specdiag never runs code from a file): save model.state_dict() instead "
                "(torch.save(model.state_dict(), path))"
            ) from None
        raise InputError(
            f"cannot read {str(path)!r} with torch.load ({_one_line(exc)}): the file is corrupt or not a PyTorch file"
        ) from None
    if _is_tensor(obj):
        obj = {path.stem: obj}
    if not isinstance(obj, Mapping):
        raise InputError(
            f"{str(path)!r} holds a {type(obj).__name__}, not a tensor or a state dict: save model.state_dict()"
        )
    return source_from_tree(obj, str(path), "torch state dict", container)


def source_from_tree(obj: Mapping, label: str, kind: str, container: str | None = None) -> WeightsSource:
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


def source_from_mapping(
    mapping: Mapping, label: str = "<state_dict>", *, container: str | None = None
) -> WeightsSource:
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
        raise InputError(
            f"state_dict must be a mapping of names to tensors, got {type(mapping).__name__}", param="state_dict"
        )
    return source_from_tree(mapping, label, "state dict", container)
