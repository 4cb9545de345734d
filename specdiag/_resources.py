"""Resource guards shared by every command: memory and time estimated up front, free disk checked.

A command estimates what it will need (:class:`Estimate`) from its options alone, before any work,
and :func:`guard` refuses in one line (:class:`~specdiag._errors.InputError`) when the memory
exceeds the budget, or warns in one line (the ``specdiag`` logger) when it will take long.

The memory budget is a fraction (:data:`MEMORY_FRACTION`, half) of the memory available now:
``MemAvailable`` on Linux, or less where a cgroup (v2 ``memory.max``, v1
``memory.limit_in_bytes``) caps this process; ``SPECDIAG_MAX_MEMORY`` (``8G``, ``512M``, a byte
count) replaces it, and so does an explicit ``max_memory`` (``check --max-memory``). An
address-space cap (``ulimit -v``, ``RLIMIT_AS``) limits each process: a run whose worker needs
more than the cap leaves is refused whatever the budget. Disk: :func:`check_disk` refuses a run
whose files would not fit in the free space of the target file system.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ._errors import InputError

__all__ = [
    "MEMORY_FRACTION",
    "LONG_RUN_S",
    "MAX_RUN_S",
    "Estimate",
    "available_memory",
    "cgroup_memory",
    "address_space_headroom",
    "parse_size",
    "memory_budget",
    "format_bytes",
    "format_seconds",
    "guard",
    "check_disk",
    "radius_estimate",
    "dynamics_estimate",
    "theory_estimate",
    "combine",
    "reproduce_estimate",
    "sweep_estimate",
]

log = logging.getLogger("specdiag")

#: default memory budget as a fraction of the memory available when the command starts
MEMORY_FRACTION = 0.5
#: runs estimated longer than this get a one-line warning (seconds)
LONG_RUN_S = 600.0
#: runs estimated longer than this are refused as a likely typo (seconds: 30 days)
MAX_RUN_S = 30 * 86400.0

# single-thread cost model, measured on this project's 2-core box (OpenBLAS, float32): an
# eigenvalue-only geev costs about 1.2e-9 n^3 s; the dynamics engine's thin products run at about
# 25 GMAC/s per core (n = 500, 50 inputs)
_EIG_S_PER_N3 = 1.5e-9
_GEMM_S_PER_MAC = 4e-11
_PER_MATRIX_S = 5e-5


@dataclass(frozen=True)
class Estimate:
    """What a run needs, estimated from its options.

    Parameters
    ----------
    memory : float
        Peak bytes of memory, all worker processes together.
    seconds : float
        Wall-clock seconds on ``workers`` cores.
    param : str
        The Python parameter that drives the cost (named in messages: ``"n"``, ``"samples"``).
    value : int
        Its value.
    what : str
        What the memory holds, for the message.
    disk : float
        Bytes the run writes (0 when it writes nothing).
    per_process : float
        Peak bytes of the largest single process (0: ``memory``), checked against an
        address-space cap, which limits each process on its own.
    """

    memory: float
    seconds: float
    param: str
    value: int
    what: str
    disk: float = 0.0
    per_process: float = 0.0


def available_memory() -> int:
    """Bytes of memory available to new allocations now (``MemAvailable``; psutil elsewhere)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # noqa: PLC0415 (only off Linux)

        return int(psutil.virtual_memory().available)
    except Exception:  # noqa: BLE001 (no way to tell: assume a small machine)
        return 4 << 30


#: where cgroup file systems are mounted, and this process's cgroups (tests point these elsewhere)
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PROC_CGROUP = Path("/proc/self/cgroup")
#: a cgroup v1 limit at or above this is "unlimited" (the kernel reports 2^63 rounded to a page)
_UNLIMITED = 1 << 60
#: address space a worker maps beyond this process's current size before its arrays: LAPACK
#: (scipy.linalg, about 130 MiB), BLAS buffers and thread stacks
_LIBRARY_ADDRESS_SPACE = 512 << 20


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _inactive_file(directory: Path, key: str) -> int:
    """Reclaimable page cache of a cgroup (its usage counts it, but a run can have it)."""
    try:
        for line in (directory / "memory.stat").read_text().splitlines():
            name, _, number = line.partition(" ")
            if name == key and number.strip().isdigit():
                return int(number)
    except OSError:
        pass
    return 0


def _cgroup_dirs() -> list[tuple[Path, str]]:
    """(directory, version) of every cgroup that may cap this process's memory: its own and its
    ancestors, under v2 (``0::/path``) and v1 (``N:memory:/path``); a namespaced mount shows them
    at the root."""
    try:
        lines = _PROC_CGROUP.read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            base, version = _CGROUP_ROOT, "v2"
        elif "memory" in parts[1].split(","):
            base, version = _CGROUP_ROOT / "memory", "v1"
        else:
            continue
        rel = Path(parts[2].lstrip("/"))
        for sub in (rel, *rel.parents):
            found.append((base / sub, version))
    return found


def cgroup_memory() -> int | None:
    """Bytes this process's cgroups still allow (limit - usage + reclaimable cache), the tightest
    of v2 ``memory.max`` and v1 ``memory.limit_in_bytes`` up the hierarchy; None when unlimited."""
    room = None
    for directory, version in _cgroup_dirs():
        if version == "v2":
            limit, usage = _read_int(directory / "memory.max"), _read_int(directory / "memory.current")
            cache = _inactive_file(directory, "inactive_file")
        else:
            limit, usage = (
                _read_int(directory / "memory.limit_in_bytes"),
                _read_int(directory / "memory.usage_in_bytes"),
            )
            cache = _inactive_file(directory, "total_inactive_file")
        if limit is None or limit >= _UNLIMITED:
            continue
        left = max(0, limit - max(0, (usage or 0) - cache))
        room = left if room is None else min(room, left)
    return room


def address_space_headroom() -> int | None:
    """Bytes of address space a process may still map under ``RLIMIT_AS`` (``ulimit -v``): the
    soft limit less this process's current size (a forked worker starts that large) and the
    libraries a worker maps before its arrays (:data:`_LIBRARY_ADDRESS_SPACE`); None when there
    is no cap."""
    try:
        import resource  # noqa: PLC0415 (POSIX only)
    except ImportError:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    size = 0
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    size = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return max(0, soft - size - _LIBRARY_ADDRESS_SPACE)


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text, param: str = "max_memory") -> int:
    """``"8G"``, ``"512M"``, ``"1.5g"``, ``"4096"`` (bytes) -> bytes.

    Examples
    --------
    >>> parse_size("2G")
    2147483648
    >>> parse_size("512m")
    536870912
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)i?b?\s*", str(text), re.IGNORECASE)
        if not match:
            raise InputError(f"{param} must be a size such as 512M, 8G or a byte count, got {text!r}", param=param)
        value, unit = float(match.group(1)), match.group(2).lower()
    size = value * _UNITS[unit]
    if not math.isfinite(size) or size < 1:
        raise InputError(f"{param} must be a positive size such as 512M or 8G, got {text!r}", param=param)
    return int(size)


def memory_budget(max_memory=None) -> tuple[int, str]:
    """The memory budget in bytes and how it was chosen (for messages).

    ``max_memory`` (a size, see :func:`parse_size`) wins; then ``$SPECDIAG_MAX_MEMORY``; else
    :data:`MEMORY_FRACTION` of :func:`available_memory`.
    """
    if max_memory is not None:
        return parse_size(max_memory), "max_memory"
    env = os.environ.get("SPECDIAG_MAX_MEMORY")
    if env:
        try:
            return parse_size(env, "size"), "SPECDIAG_MAX_MEMORY"
        except InputError:
            raise InputError(
                "the environment variable SPECDIAG_MAX_MEMORY must be a size such as 512M or 8G, got "
                f"{env.strip()[:40]!r}: fix or unset it"
            ) from None
    available, capped = available_memory(), cgroup_memory()
    if capped is not None and capped < available:
        return int(
            MEMORY_FRACTION * capped
        ), "half of what the cgroup's memory limit leaves; SPECDIAG_MAX_MEMORY changes it"
    return int(MEMORY_FRACTION * available), "half the available memory; SPECDIAG_MAX_MEMORY raises it"


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    Examples
    --------
    >>> format_bytes(3 * 2**30)
    '3.0 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def format_seconds(s: float) -> str:
    """A rough human duration: ``'40 s'``, ``'12 min'``, ``'3.5 h'``, ``'41 days'``."""
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:,.0f} days"


def guard(estimate: Estimate, *, max_memory=None) -> Estimate:
    """Refuse a run whose memory exceeds the budget (or that would run for months); warn if long.

    Raises
    ------
    InputError
        One line naming the parameter, the estimate and the budget, and the fix.
    """
    budget, source = memory_budget(max_memory)
    if estimate.memory > budget:
        raise InputError(
            f"{estimate.param} {estimate.value:,} needs about {format_bytes(estimate.memory)} of memory "
            f"({estimate.what}), "
            f"over the {format_bytes(budget)} budget ({source}): use a smaller value",
            param=estimate.param,
        )
    headroom = address_space_headroom()
    need = estimate.per_process or estimate.memory
    if headroom is not None and need > headroom:
        raise InputError(
            f"{estimate.param} {estimate.value:,} needs about {format_bytes(need)} of memory per process "
            f"({estimate.what}), "
            f"over the {format_bytes(headroom)} the address-space limit leaves (ulimit -v, RLIMIT_AS): use a smaller "
            "value or raise the limit",
            param=estimate.param,
        )
    if estimate.seconds > MAX_RUN_S:
        raise InputError(
            f"{estimate.param} {estimate.value:,} would run for about {format_seconds(estimate.seconds)}: use a "
            "smaller value",
            param=estimate.param,
        )
    if estimate.seconds > LONG_RUN_S:
        log.warning(
            "note: %s %s: this run will take about %s",
            estimate.param,
            f"{estimate.value:,}",
            format_seconds(estimate.seconds),
            extra={"param": estimate.param},
        )
    return estimate


def check_disk(path: Path | str, need: float, param: str = "out") -> None:
    """Refuse when ``need`` bytes (plus a 10% margin) exceed the free space where ``path`` will be.

    ``path`` need not exist: the nearest existing ancestor's file system is checked.
    """
    if need <= 0:
        return
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return
    if need * 1.1 > free:
        raise InputError(
            f"{param} {str(path)!r}: the run writes about {format_bytes(need)} but only {format_bytes(free)} is free "
            f"there: free space or choose another {param}",
            param=param,
        )


def _eig_seconds(n: int, field: str, precision: str) -> float:
    return _EIG_S_PER_N3 * n**3 * (2 if precision == "double" else 1) * (3 if field == "complex" else 1) + _PER_MATRIX_S


def radius_estimate(
    n: int, samples: int, *, field: str = "real", precision: str = "single", diagonal: bool = False, workers: int = 1
) -> Estimate:
    """Memory and time of sampling ``samples`` radii at width ``n`` on ``workers`` processes.

    Each worker holds a float64 draw, its cast and LAPACK's work arrays (about 4 n x n arrays);
    the driver holds the radii and their JSON/CSV text (about 40 bytes per radius).
    """
    item = 16 if field == "complex" else 8
    workers = max(1, min(workers, samples))
    per_worker = (4 * n * item if diagonal else 4 * n * n * item) + (64 << 20)
    driver = 48 * samples
    seconds = samples * ((2e-8 * n + 2e-5) if diagonal else _eig_seconds(n, field, precision)) / workers
    if driver > per_worker * workers:
        return Estimate(
            driver + per_worker * workers,
            seconds,
            "samples",
            samples,
            "the radii and their text",
            disk=40 * samples,
            per_process=driver + per_worker,
        )
    what = f"{workers} worker{'s' if workers > 1 else ''} x 4 arrays of n x n"
    return Estimate(
        driver + per_worker * workers, seconds, "n", n, what, disk=40 * samples, per_process=driver + per_worker
    )


def dynamics_estimate(
    n: int,
    matrices: int,
    inputs: int,
    steps: int,
    *,
    every: int = 1,
    field: str = "real",
    precision: str = "single",
    diagonal: bool = False,
    chunk: int = 8,
    workers: int = 1,
) -> Estimate:
    """Memory and time of propagating ``matrices`` x ``inputs`` states for ``steps`` steps.

    Memory: the recorded log-norms (3 arrays of matrices x recorded steps, plus a chunk's
    chunk x inputs x recorded), the chunk's matrices and states (and the hidden input block).
    """
    item = (16 if field == "complex" else 8) * (1 if precision == "double" else 0.5) + 8
    recorded = steps // max(every, 1) + 2
    chunk = max(1, min(chunk, matrices))
    curves = 8 * recorded * (4 * matrices + chunk * inputs)
    work = chunk * item * ((n if diagonal else n * n) + 260 * n * inputs) + (64 << 20)
    macs = matrices * steps * inputs * (n if diagonal else n * n)
    seconds = (macs * _GEMM_S_PER_MAC * (4 if field == "complex" else 1) + matrices * steps * inputs * 1e-8) / max(
        1, min(workers, matrices)
    )
    if curves > work:
        return Estimate(
            curves + work,
            seconds,
            "steps",
            steps,
            "the recorded log-norms of every matrix and input; every= thins them",
        )
    return Estimate(curves + work, seconds, "n", n, "a chunk of matrices and their states")


def theory_estimate(n: int) -> Estimate:
    """Time of Kostlan's exact law at width n (about 7e-5 n s) and its O(n) work arrays."""
    return Estimate(400.0 * n, 1.0 + 7e-5 * n, "n", n, "Kostlan's exact law")


def combine(estimates, disk: float = 0.0) -> Estimate:
    """Stages run one after another: the peak memory of the worst stage, the sum of the times."""
    estimates = list(estimates)
    worst = max(estimates, key=lambda e: e.memory)
    per_process = max(e.per_process or e.memory for e in estimates)
    return Estimate(
        worst.memory,
        sum(e.seconds for e in estimates),
        worst.param,
        worst.value,
        worst.what,
        disk=disk + sum(e.disk for e in estimates),
        per_process=per_process,
    )


def reproduce_estimate(cfg, workers: int = 1) -> Estimate:
    """``specdiag reproduce``: its radii stages, dynamics stages (Figures 1-2) and Figure 4's, in
    sequence, plus the arrays it saves (float64 log-norm curves per matrix and recorded step)."""
    stages = []
    disk = 2 << 20  # figures and tables
    figures = set(cfg.figures)
    pair = [f for f, fig in (("real", "1"), ("complex", "2")) if fig in figures]
    radii_fields = set(pair) | ({"real", "complex"} if "3" in figures else set())
    for fld in radii_fields:
        stages.append(radius_estimate(cfg.n, cfg.samples, field=fld, precision=cfg.precision, workers=workers))
    for fld in pair:
        for _ in range(4):  # (glorot, rescaled) x (trajectory, hidden)
            stages.append(
                dynamics_estimate(
                    cfg.n, cfg.matrices, cfg.inputs, cfg.steps, field=fld, precision=cfg.precision, workers=workers
                )
            )
            disk += 2 * 8 * cfg.matrices * (cfg.steps + 1)
    if "4" in figures:
        for fld in ("real", "complex"):
            stages.append(
                dynamics_estimate(
                    cfg.n,
                    cfg.fig4_matrices,
                    cfg.fig4_inputs,
                    cfg.fig4_steps,
                    field=fld,
                    precision=cfg.precision,
                    workers=workers,
                )
            )
            disk += 2 * 8 * cfg.fig4_matrices * (cfg.fig4_steps + 1)
    if "eigenvalues" in figures:
        stages.append(radius_estimate(cfg.n, 7, field="complex", precision="double"))
    return combine(stages, disk=disk + 8 * cfg.samples * len(radii_fields) * 2)


def sweep_estimate(cfg, workers: int = 1) -> Estimate:
    """``specdiag sweep``: every grid point's tasks on ``workers`` processes (one matrix at a time
    per worker, its eigendecomposition when ``dynamics`` is asked for), and the task files."""
    stages = []
    disk = 0.0
    per_matrix_floats = 1 + 2 * len(cfg.dynamics)
    for n in cfg.ns:
        for fld in cfg.fields:
            est = radius_estimate(n, cfg.samples, field=fld, precision=cfg.precision, workers=workers)
            if cfg.dynamics:  # eigenvectors and their inverse, complex: about 6 n x n complex arrays
                extra = 6 * 16 * n * n
                what = f"{workers} worker{'s' if workers > 1 else ''} x eigendecompositions of n x n"
                est = Estimate(
                    est.memory + workers * extra,
                    est.seconds * 4,
                    est.param,
                    est.value,
                    what,
                    est.disk,
                    est.per_process + extra,
                )
            stages.extend([est] * len(cfg.inits))
            disk += len(cfg.inits) * (
                8 * per_matrix_floats * cfg.samples + 4096 * (cfg.samples // max(cfg.chunk_size, 1) + 1)
            )
    return combine(stages, disk=disk)
