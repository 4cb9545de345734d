"""Where sweep tasks run: a local process pool, or an existing Dask distributed cluster.

One small interface: ``run(func, tasks)`` yields ``(task, result, error)`` as tasks finish, so the
caller can save each result at once and report failures without losing the others. No scheduler
or sockets of our own: Dask's ``Client`` does the distribution.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterable, Iterator

from .errors import InputError
from .pool import init_worker, pool_context, resolve_workers

__all__ = ["LocalExecutor", "DaskExecutor", "make_executor"]


class LocalExecutor:
    """A process pool (fork on Linux), or inline when ``workers == 1``."""

    name = "local"

    def __init__(self, workers: int | None):
        self.workers = resolve_workers(workers)

    def run(self, func: Callable, tasks: Iterable) -> Iterator[tuple[Any, Any, BaseException | None]]:
        tasks = list(tasks)
        if self.workers == 1 or len(tasks) <= 1:
            for task in tasks:
                try:
                    yield task, func(task), None
                except Exception as exc:  # reported per task; the sweep goes on
                    yield task, None, exc
            return
        with ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=pool_context(), initializer=init_worker) as pool:
            futures = {pool.submit(func, task): task for task in tasks}
            for future in as_completed(futures):
                exc = future.exception()
                yield futures[future], (None if exc else future.result()), exc

    def close(self):
        pass


class DaskExecutor:
    """Tasks submitted to a Dask distributed cluster: an address (tcp://host:8786) or ``local``
    for an in-process LocalCluster with ``workers`` single-threaded worker processes."""

    name = "dask"

    def __init__(self, scheduler: str, workers: int | None = None, processes: bool = True):
        try:
            from dask.distributed import Client, LocalCluster  # noqa: PLC0415
        except ImportError:
            raise InputError("--scheduler needs Dask distributed: pip install 'specdiag[dask]'") from None
        self.cluster = None
        try:
            if scheduler == "local":
                self.cluster = LocalCluster(n_workers=workers or 2, threads_per_worker=1, processes=processes, dashboard_address=None)
                self.client = Client(self.cluster)
            else:
                self.client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler {scheduler!r} ({exc}): check the address, or use --scheduler local") from None

    def run(self, func: Callable, tasks: Iterable) -> Iterator[tuple[Any, Any, BaseException | None]]:
        from dask.distributed import as_completed as dask_completed  # noqa: PLC0415

        tasks = list(tasks)
        futures = self.client.map(func, tasks, pure=False)
        index = {future.key: task for future, task in zip(futures, tasks)}
        for future in dask_completed(futures):
            task = index[future.key]
            if future.status == "error":
                yield task, None, future.exception()
            else:
                yield task, future.result(), None
            future.release()

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def make_executor(scheduler: str | None, workers: int) -> LocalExecutor | DaskExecutor:
    return LocalExecutor(workers) if scheduler is None else DaskExecutor(scheduler, workers)
