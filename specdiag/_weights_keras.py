"""Keras weights (``pip install 'specdiag[h5py]'``): ``.keras`` archives and legacy ``.h5`` files, via h5py.

A ``.keras`` file is a zip holding ``model.weights.h5``, where a recurrent layer's cell stores its
variables by index (``layers/lstm/cell/vars/0``, ``1``, ``2``: kernel, recurrent kernel, bias, the
order Keras builds them in); those are named ``kernel``, ``recurrent_kernel`` and ``bias`` here so
the Keras rule reads them. A legacy ``.h5`` (``model.save("m.h5")``, ``save_weights``) names them
already (``model_weights/lstm/.../lstm_cell/recurrent_kernel``). Nothing is executed: only datasets
are read, lazily.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import InputError
from ._text import printable
from ._weights_base import TensorInfo, WeightsSource

__all__ = ["open_keras", "open_h5"]

CELL_VARS = ("kernel", "recurrent_kernel", "bias")


def _h5py():
    try:
        import h5py  # noqa: PLC0415 (optional dependency, only for Keras files)
    except ImportError:
        raise InputError(
            "reading Keras .keras/.h5 files needs h5py: pip install 'specdiag[h5py]'", param="path"
        ) from None
    return h5py


def _datasets(handle, h5py) -> dict[str, Any]:
    found: dict[str, Any] = {}
    handle.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def _rename_cell_vars(names: list[str], shapes: dict) -> dict[str, str]:
    """Keras 3 ``.../cell/vars/{0,1,2}`` -> ``.../cell/{kernel,recurrent_kernel,bias}`` (stored name -> shown name)."""
    out = {n: n for n in names}
    groups: dict[str, list[str]] = {}
    for n in names:
        head, _, leaf = n.rpartition("/vars/")
        if head and leaf.isdigit():
            groups.setdefault(head, []).append(n)
    for head, members in groups.items():
        if not head.endswith("cell") or len(members) not in (2, 3):
            continue
        members.sort(key=lambda n: int(n.rpartition("/")[2]))
        rec = shapes[members[1]]
        if len(rec) != 2 or rec[1] % rec[0]:
            continue
        for n, var in zip(members, CELL_VARS):
            out[n] = f"{head}/{var}"
    return out


def _source(path: Path, handle, h5py, kind: str, keep: object = None):

    datasets = _datasets(handle, h5py)
    shapes = {n: tuple(int(s) for s in d.shape) for n, d in datasets.items()}
    shown = _rename_cell_vars(list(datasets), shapes)
    stored = {v: k for k, v in shown.items()}
    infos = {}
    for name, ds in datasets.items():
        if ds.dtype.kind not in "fiuc":
            continue
        label = shown[name]
        infos[label] = TensorInfo(
            label, shapes[name], ds.dtype.name, int(ds.size) * ds.dtype.itemsize, None, int(ds.size)
        )

    def load(label: str) -> np.ndarray:
        _ = keep  # the archive's bytes live as long as the source
        return np.asarray(datasets[stored[label]][()])

    return WeightsSource(str(path), kind, infos, load)


def open_h5(path: Path):
    """A legacy Keras ``.h5`` file (or any HDF5 file of weight datasets)."""
    h5py = _h5py()
    try:
        handle = h5py.File(str(path), "r")
    except OSError as exc:
        raise InputError(
            f"{printable(str(path))!r} is not a valid HDF5 file ({exc}): the file is corrupt or of another type",
            param="path",
        ) from None
    return _source(path, handle, h5py, "keras h5")


def open_keras(path: Path):
    """A Keras 3 ``.keras`` archive (zip with ``model.weights.h5``)."""
    import zipfile  # noqa: PLC0415 (only for .keras files)

    h5py = _h5py()
    try:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("model.weights.h5")
    except KeyError:
        raise InputError(
            f"{printable(str(path))!r} is a zip without model.weights.h5: not a Keras 3 .keras file", param="path"
        ) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            f"{printable(str(path))!r} is not a valid .keras archive ({exc}): the file is corrupt or truncated",
            param="path",
        ) from None
    buffer = io.BytesIO(data)
    try:
        handle = h5py.File(buffer, "r")
    except OSError as exc:
        raise InputError(
            f"{printable(str(path))!r}: its model.weights.h5 is not valid HDF5 ({exc}): the file is corrupt",
            param="path",
        ) from None
    return _source(path, handle, h5py, "keras", keep=buffer)
