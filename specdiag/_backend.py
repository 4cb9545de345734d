"""Array backends (NumPy on CPU, CuPy on GPU), device selection and seeded generators.

CuPy is imported lazily, only when a GPU is asked for or probed. Set ``SPECDIAG_DISABLE_GPU=1``
to make ``auto`` always pick the CPU (as PyLops does with its own variable).

Reproducibility: every random stream is derived from the user's seed and a key that names what it
is for (:data:`MATRIX_STREAM`, index i), never from global state, so results do not depend on
batch size, chunking, worker count or the order in which matrices are computed.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from ._errors import InputError
from ._validation import choice

__all__ = [
    "DEVICES",
    "PRECISIONS",
    "MATRIX_STREAM",
    "INPUT_STREAM",
    "CALIBRATION_STREAM",
    "LAW_STREAM",
    "cupy_module",
    "gpu_available",
    "resolve_device",
    "array_module",
    "real_dtype",
    "to_host",
    "seed_sequence",
    "host_rng",
    "device_rng",
]

DEVICES = ("auto", "cpu", "gpu")
#: precision name -> real floating type; complex work uses the matching complex type
PRECISIONS = {"single": np.float32, "double": np.float64}

#: first element of every spawn key: which random stream a generator belongs to
MATRIX_STREAM = 0
INPUT_STREAM = 1
CALIBRATION_STREAM = 2
LAW_STREAM = 3  # exact-in-law radius draws (no matrices)


@functools.lru_cache(maxsize=1)
def cupy_module() -> Any | None:
    """CuPy if it imports and sees at least one CUDA device, else None."""
    if os.environ.get("SPECDIAG_DISABLE_GPU", "").strip() not in ("", "0"):
        return None
    try:
        import cupy  # noqa: PLC0415 (optional dependency, imported lazily)

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # ImportError, CUDA driver errors: no usable GPU either way
        return None
    return cupy


def gpu_available() -> bool:
    """True when CuPy imports and sees a CUDA device (and ``SPECDIAG_DISABLE_GPU`` is unset)."""
    return cupy_module() is not None


def resolve_device(device: str, param: str = "device") -> str:
    """Map ``auto|cpu|gpu`` to ``cpu`` or ``gpu``.

    ``auto`` means the GPU when one is usable, else the CPU; ``gpu`` without CuPy and a device, and
    any other name, is an :class:`InputError`. Every library entry point resolves its ``device``
    here, so a typo never silently runs on the CPU.

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    device = choice(str(getattr(device, "value", device)).lower(), param, DEVICES)
    if device == "auto":
        return "gpu" if gpu_available() else "cpu"
    if device == "gpu" and not gpu_available():
        raise InputError(
            "device 'gpu' needs CuPy and a CUDA device, and none was found: "
            "install with `pip install 'specdiag[gpu]'` on a CUDA machine, or use the cpu device",
            param=param,
        )
    return device


def real_dtype(precision: str, param: str = "precision") -> type:
    """float32 for ``single``, float64 for ``double``."""
    return PRECISIONS[choice(precision, param, PRECISIONS)]


def array_module(device: str):
    """numpy for ``cpu``, cupy for ``gpu`` (device already resolved)."""
    return cupy_module() if device == "gpu" else np


def to_host(x) -> np.ndarray:
    """A NumPy array from a NumPy or CuPy array."""
    if isinstance(x, np.ndarray):
        return x
    get = getattr(x, "get", None)
    return get() if get is not None else np.asarray(x)


def seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    """The SeedSequence for stream ``key`` under ``seed``, equal to spawning children by index."""
    return np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key))


def host_rng(seed: int, *key: int) -> np.random.Generator:
    """A NumPy generator (PCG64) for stream ``key`` under ``seed``."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, *key)))


def device_rng(seed: int, *key: int, device: str = "cpu"):
    """A generator with a ``standard_normal(shape, dtype=...)`` and ``random(shape, dtype=...)``
    method on the given device.

    On GPU this is a CuPy RandomState using Philox (cheap to create, counter-based) seeded from the
    same SeedSequence: deterministic per (seed, key), but a different stream than on CPU.
    """
    if device != "gpu":
        return host_rng(seed, *key)
    cp = cupy_module()
    if cp is None:  # resolve_device("gpu") refuses before any caller gets here
        raise RuntimeError("a GPU generator was asked for, but CuPy sees no device")
    state = int(seed_sequence(seed, *key).generate_state(1, np.uint64)[0])
    return cp.random.RandomState(state, method=cp.cuda.curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
