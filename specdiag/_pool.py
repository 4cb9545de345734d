"""One process pool for the whole package: matrices spread over worker processes, one BLAS thread each.

OpenBLAS's eigensolver is mostly single-threaded and f2py holds the GIL, so the fast way to do many
eigen-problems on a small machine is one process per core, each limited to one BLAS thread
(threadpoolctl). spectra, check and the sweep executors all go through :func:`process_map`.

Workers are forked on Linux (cheap; callers keep no threads alive while forking), ask the kernel
to be killed when their parent dies (``PR_SET_PDEATHSIG``), so a killed run leaves no orphans, and
the worker count is capped at the cores this process may use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from ._errors import InputError

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# multiprocessing, concurrent.futures and threadpoolctl (about 30 ms of imports) are loaded by the
# functions that start a pool or limit threads: a command that runs in-process never pays for them

__all__ = [
    "available_cores",
    "resolve_workers",
    "pool_context",
    "process_map",
    "inline_threads",
    "single_blas_thread",
    "init_worker",
    "stop_pool",
]

log = logging.getLogger("specdiag")


_WARNED: set = set()


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def resolve_workers(workers: int | None, *, tasks: int | None = None, param: str = "workers") -> int:
    """The worker count to use: ``None`` means every core; more than the cores is capped (and logged).

    Parameters
    ----------
    workers : int or None
        Requested worker processes.
    tasks : int, optional
        Number of independent tasks: never more workers than tasks.
    param : str
        Name of the parameter, for the error message.

    Raises
    ------
    InputError
        If ``workers`` is below 1.

    Examples
    --------
    >>> resolve_workers(1)
    1
    >>> resolve_workers(10_000) == available_cores()
    True
    """
    cores = available_cores()
    if workers is None:
        workers = cores
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InputError(f"{param} must be a whole number of processes >= 1, got {workers!r}", param=param)
    elif workers > cores:
        if (param, workers) not in _WARNED:  # one line per run, however many pools it starts
            _WARNED.add((param, workers))
            log.warning(
                "%s %d exceeds the %d available cores: using %d", param, workers, cores, cores, extra={"param": param}
            )
        workers = cores
    if tasks is not None:
        workers = max(1, min(workers, tasks))
    return workers


def pool_context():
    """The multiprocessing context for worker pools: fork on Linux, the platform default elsewhere."""
    import multiprocessing  # noqa: PLC0415 (only when a pool starts)

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent exits (no orphaned workers).

    If the parent already died between the fork and the request, exit now: the kernel would
    never send the signal.
    """
    if not sys.platform.startswith("linux"):
        return
    import multiprocessing  # noqa: PLC0415 (a pool worker: already loaded by its parent)

    parent = multiprocessing.parent_process()
    with contextlib.suppress(Exception):
        import ctypes  # noqa: PLC0415 (Linux only)

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if parent is not None and parent.pid is not None and os.getppid() != parent.pid:
        os._exit(1)


def init_worker() -> None:
    """Initializer of every pool worker: die with the parent, ignore Ctrl-C, one BLAS thread.

    SIGTERM gets its default action back (a forked worker inherits the CLI's handler, which would
    wait for the running LAPACK call and print a traceback): the worker dies at once.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    # the parent's Ctrl-C is handled once, by the parent; workers just stop when it tears down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 (loaded when threads are limited)

    threadpool_limits(limits=1)


def inline_threads(workers: int | None, jobs: int) -> int | None:
    """BLAS threads for ``jobs`` run in this process one after another: None (the BLAS's own
    default, every core) for one job asked with ``workers=None`` in a process that is not itself a
    pool worker, else 1 (several jobs go to processes of one thread each; a pool worker shares its
    cores with its siblings; an explicit ``workers`` is a promise about the cores used).

    Examples
    --------
    >>> inline_threads(None, 1) is None, inline_threads(1, 1), inline_threads(None, 3)
    (True, 1, 1)
    """
    mp = sys.modules.get("multiprocessing")  # a pool worker's parent loaded it before forking
    if workers is None and jobs == 1 and (mp is None or mp.parent_process() is None):
        return None
    return 1


@contextlib.contextmanager
def single_blas_thread():
    """Limit BLAS/LAPACK to one thread within the block (what every worker runs with)."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 (loaded when threads are limited)

    with threadpool_limits(limits=1):
        yield


def process_map(
    func: Callable[[Any], Any], items: Sequence | Iterable, workers: int | None = None
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, func(items[index]))`` as each finishes, on ``workers`` processes.

    One BLAS thread per worker, and inline (in this process) when one worker suffices: with one
    BLAS thread, except for a single item with ``workers=None`` (every core) outside a pool
    worker, which keeps the BLAS's own thread count (every core, or what OPENBLAS_NUM_THREADS
    and the like say): one large eigen-problem then uses the whole machine (:func:`inline_threads`).
    An exception in ``func`` propagates to the caller; the remaining work is cancelled.

    Examples
    --------
    >>> sorted(process_map(abs, [-1, -2, 3], workers=1))
    [(0, 1), (1, 2), (2, 3)]
    """
    items = list(items)
    every_core = inline_threads(workers, len(items)) is None
    workers = resolve_workers(workers, tasks=len(items) or 1)
    if workers == 1 or len(items) <= 1:
        with contextlib.nullcontext() if every_core else single_blas_thread():
            for i, item in enumerate(items):
                yield i, func(item)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: PLC0415 (only when a pool starts)

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=pool_context(), initializer=init_worker)
    try:
        futures = {pool.submit(func, item): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        stop_pool(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Terminate a pool's workers now (Ctrl-C, SIGTERM, a failed task): no waiting for a long
    LAPACK call to finish, no orphans."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(Exception):
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
