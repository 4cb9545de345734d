"""Where sweep tasks run: a local process pool, or an existing Dask distributed cluster.

One small interface: ``run(func, tasks)`` yields ``(task, result, error)`` as tasks finish, so the
caller can save each result at once and report failures without losing the others. No scheduler
of our own: Dask's ``Client`` does the distribution.

Every network wait is bounded (:data:`CONNECT_TIMEOUT_S`): the scheduler address is checked
(scheme, host, port) before Dask sees it, a ``tcp://`` peer must send Dask's handshake within the
timeout and announce a sane frame size (a silent listener or an HTTP server fails in one line, not
a hang or an exabyte allocation), the Client must connect, and the cluster must have a worker.
Ctrl-C and SIGTERM close the cluster quietly (Dask's and tornado's log lines are muted).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NoReturn
from urllib.parse import urlsplit

from ._errors import InputError
from ._pool import init_worker, pool_context, resolve_workers, stop_pool
from ._text import printable

if TYPE_CHECKING:
    from dask.distributed import Client, LocalCluster

__all__ = [
    "CONNECT_TIMEOUT_S",
    "connect_timeout",
    "ClusterLost",
    "SCHEMES",
    "LocalExecutor",
    "DaskExecutor",
    "check_scheduler_address",
    "probe_dask_scheduler",
    "make_executor",
]

#: seconds allowed for each network step: connecting, the handshake, the Client, a first worker
CONNECT_TIMEOUT_S = 10.0
#: address schemes Dask distributed can reach
SCHEMES = ("tcp", "tls", "ws", "wss", "ucx", "inproc")
#: the largest handshake frame a Dask scheduler sends (its real one is about 200 bytes)
_MAX_HANDSHAKE = 1 << 20
_NOISY_LOGGERS = ("distributed", "tornado", "asyncio", "bokeh")
#: seconds between checks on a working cluster (is the scheduler there, has it a worker?)
_POLL_S = 1.0


class ClusterLost(InputError):
    """The Dask cluster went away mid-run (scheduler gone, or every worker killed)."""


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
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(tasks)), mp_context=pool_context(), initializer=init_worker
        ) as pool:
            try:
                futures = {pool.submit(func, task): task for task in tasks}
                for future in as_completed(futures):
                    error = future.exception()
                    yield futures[future], (None if error else future.result()), error
            except BaseException:  # Ctrl-C, SIGTERM, the caller stopped: no waiting, no orphans
                stop_pool(pool)
                raise

    def close(self):
        pass


class DaskExecutor:
    """Tasks submitted to a Dask distributed cluster: an address (tcp://host:8786) or ``local``
    for an in-process LocalCluster with ``workers`` single-threaded worker processes."""

    name = "dask"

    def __init__(
        self, scheduler: str, workers: int | None = None, processes: bool = True, timeout: float = CONNECT_TIMEOUT_S
    ):
        scheduler = check_scheduler_address(scheduler)
        self.address, self.timeout = scheduler, timeout
        try:
            import dask  # noqa: PLC0415 (Dask only when asked for)
            import dask.distributed  # noqa: F401, PLC0415 (present, or one line below)
        except ImportError:
            raise InputError(
                "scheduler needs Dask distributed: pip install 'specdiag[dask]'", param="scheduler"
            ) from None
        self.cluster: LocalCluster | None = None
        self.client: Client | None = None
        self._mute = _quiet_dask()  # for the executor's life: a dying cluster logs from Dask's threads
        self._mute.__enter__()
        self._config = dask.config.set(
            {
                "distributed.comm.timeouts.connect": f"{timeout}s",
                "distributed.comm.timeouts.tcp": f"{max(timeout, 30)}s",
            }
        )
        try:
            self._connect(scheduler, workers, processes, timeout)
        except BaseException:
            self.close()
            raise

    def _connect(self, scheduler: str, workers: int | None, processes: bool, timeout: float) -> None:
        """Reach the scheduler (or start a LocalCluster) and wait for a first worker, bounded."""
        from dask.distributed import Client, LocalCluster  # noqa: PLC0415 (Dask only when asked for)

        if scheduler != "local" and scheduler.startswith("tcp://"):
            probe_dask_scheduler(scheduler, timeout)
        if scheduler == "local":
            # silence_logs reaches the worker processes too: a worker that outlives the scheduler
            # after Ctrl-C ("failed to communicate with scheduler during heartbeat") prints nothing.
            # No dashboard, and the scheduler's HTTP server on a free localhost port: its default, 8787,
            # is often taken (another cluster, a second run), and the fallback leaks a socket.
            self.cluster = LocalCluster(
                n_workers=workers or 2,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.CRITICAL,
            )
            self.client = Client(self.cluster)
            return
        self.client = _bounded(
            lambda: Client(scheduler, timeout=f"{timeout}s"),
            timeout,
            f"scheduler {scheduler!r} did not complete Dask's handshake within {timeout:g} s",
        )
        try:
            self.client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError):
            raise InputError(
                f"scheduler {scheduler!r} has no workers (none joined within {timeout:g} s): "
                f"start some with dask worker {scheduler}",
                param="scheduler",
            ) from None

    def run(self, func: Callable, tasks: Iterable) -> Iterator[tuple[Any, Any, BaseException | None]]:
        """Submit every task and yield them as they finish. The cluster is watched while it works:
        a scheduler that goes away, or no worker left for :attr:`timeout` seconds (all killed),
        ends the run in one line (:class:`ClusterLost`); the results already saved are kept.

        Every wait is bounded, so the watch cannot be starved: the wait for a task to finish
        (:data:`_POLL_S`), the fetch of a finished task's result (:attr:`timeout`: a result whose
        worker died after it finished is recomputed by Dask, which waits for a worker forever), and
        the question to the scheduler (asked fresh on each tick without a result, never its cache)."""
        from dask.distributed import wait  # noqa: PLC0415 (Dask only when asked for)

        assert self.client is not None, "__init__ connected, or raised"
        tasks = list(tasks)
        futures = self.client.map(func, tasks, pure=False)
        index = {future.key: task for future, task in zip(futures, tasks)}
        pending = set(futures)
        idle_since = None
        while pending:  # Dask's loggers are muted for the executor's life (see __init__)
            try:
                done = wait(list(pending), timeout=_POLL_S, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                done = set()
            except Exception as exc:  # noqa: BLE001 (the scheduler went away mid-run: said below)
                raise self._lost(f"the scheduler went away ({type(exc).__name__})", len(pending)) from None
            landed = False
            for future in done if idle_since is None else ():  # no worker: nothing to fetch from
                outcome = self._collect(future, len(pending))
                if outcome is None:  # its worker died with it: Dask recomputes it on a worker to come
                    break
                pending.discard(future)
                future.release()
                landed = True
                yield (index[future.key], *outcome)
            idle_since = None if landed else self._check_workers(idle_since, len(pending))

    def _collect(self, future: Any, pending: int) -> tuple[Any, BaseException | None] | None:
        """A done future's (result, error), fetched within :attr:`timeout`; None if it could not be
        fetched in time (the worker holding it died: the watch decides whether any is left)."""
        try:
            if future.status == "error":
                return None, future.exception(timeout=self.timeout)
            if future.status == "finished":
                return future.result(timeout=self.timeout), None
        except TimeoutError:
            return None
        except Exception as exc:  # noqa: BLE001 (a task's own error is fetched above; this is the cluster)
            raise self._lost(f"a result could not be fetched ({type(exc).__name__})", pending) from None
        if future.status in ("pending", "lost"):  # lost with its worker since the wait: Dask recomputes it
            return None
        raise self._lost(f"the scheduler lost its tasks ({future.status})", pending)

    def _check_workers(self, idle_since: float | None, pending: int) -> float | None:
        """No result this tick: is the scheduler there, and does it have a worker? Asked fresh each
        time (``scheduler_info`` answers from a cache when the scheduler does not answer). The time
        since the cluster was first seen without workers (None: it has some)."""
        assert self.client is not None, "__init__ connected, or raised"
        if self.client.status not in ("running", "connecting"):
            raise self._lost("the connection to the scheduler closed", pending)
        try:
            workers = len(self.client.nthreads(callback_timeout=self.timeout))
        except Exception as exc:  # noqa: BLE001 (an unreachable scheduler: said in one line)
            raise self._lost(f"the scheduler does not answer ({type(exc).__name__})", pending) from None
        if workers:
            return None
        now = time.monotonic()
        if idle_since is not None and now - idle_since >= self.timeout:
            raise self._lost(f"no worker has been connected for {self.timeout:g} s (killed?)", pending)
        return idle_since if idle_since is not None else now

    def _lost(self, what: str, pending: int) -> ClusterLost:
        where = "the local Dask cluster" if self.address == "local" else f"Dask scheduler {self.address!r}"
        return ClusterLost(
            f"scheduler: {where}: {what}; {pending} task{'s' if pending != 1 else ''} not done "
            f"(finished ones are saved): restart the cluster and rerun with resume=out",
            param="scheduler",
        )

    def close(self):
        """Close the client and the cluster, quietly (no Dask or tornado log lines or tracebacks)."""
        with _quiet_dask():
            if self.client is not None:
                with contextlib.suppress(BaseException):
                    self.client.close(timeout=CONNECT_TIMEOUT_S)
            if self.cluster is not None:
                with contextlib.suppress(BaseException):
                    self.cluster.close(timeout=CONNECT_TIMEOUT_S)
        with contextlib.suppress(Exception):
            self._config.__exit__(None, None, None)
        with contextlib.suppress(Exception):
            self._mute.__exit__(None, None, None)


@contextlib.contextmanager
def _quiet_dask():
    """Mute Dask's, tornado's and asyncio's loggers, children with levels of their own included
    (``distributed.client`` logs a reconnect traceback at ERROR when the scheduler dies)."""
    names = set(_NOISY_LOGGERS) | {n for n in logging.root.manager.loggerDict if n.split(".")[0] in _NOISY_LOGGERS}
    loggers = [logging.getLogger(name) for name in sorted(names)]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _bounded(make: Callable[[], Any], seconds: float, message: str):
    """``make()`` in a daemon thread, abandoned after ``seconds`` (Dask's handshake read has no
    timeout of its own); its exceptions become one-line InputErrors."""
    box: dict = {}

    def target():
        try:
            with _quiet_dask():
                box["value"] = make()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            box["error"] = exc

    thread = threading.Thread(target=target, name="specdiag-dask-connect", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise InputError(message, param="scheduler")
    if "error" in box:
        exc = box["error"]
        raise InputError(
            f"cannot reach the Dask scheduler ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}): check the address, or use scheduler='local'",
            param="scheduler",
        ) from None
    return box["value"]


def check_scheduler_address(scheduler: str) -> str:
    """``local``, or a Dask address ``scheme://host:port`` with a known scheme; one line otherwise.

    Examples
    --------
    >>> check_scheduler_address("tcp://127.0.0.1:8786")
    'tcp://127.0.0.1:8786'
    >>> check_scheduler_address("foo://bar")
    Traceback (most recent call last):
    ...
    specdiag._errors.InputError: scheduler 'foo://bar' has an unknown scheme foo: use local or tcp://host:port (also tls, ws, wss, ucx)
    """  # noqa: E501 (a doctest's one-line exception message)
    text = str(scheduler).strip()
    if text == "local":
        return text
    if "://" not in text:
        text = "tcp://" + text  # Dask's default, as `dask worker host:port` accepts
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise InputError(
            f"scheduler {scheduler!r} has an unknown scheme {parts.scheme or '(none)'}: "
            "use local or tcp://host:port (also tls, ws, wss, ucx)",
            param="scheduler",
        )
    if parts.scheme == "inproc":
        return text
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port is None or not 0 < port < 65536 or parts.path not in ("", "/") or parts.query:
        raise InputError(
            f"scheduler {scheduler!r} is not an address scheme://host:port (e.g. tcp://127.0.0.1:8786): "
            "check it, or use scheduler='local'",
            param="scheduler",
        )
    return text


def probe_dask_scheduler(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Connect to a ``tcp://`` address and read the handshake a Dask scheduler sends on accept,
    with every wait bounded by ``timeout``: a closed port, a silent listener, or a service that
    is not Dask (whose first bytes would read as an absurd frame size) fails in one line."""
    parts = urlsplit(address)
    host, port = parts.hostname, parts.port
    deadline = time.monotonic() + timeout

    def fail(reason: str) -> NoReturn:
        raise InputError(
            f"scheduler {address!r} {reason}: check the address (a Dask scheduler listens on 8786), "
            "or use scheduler='local'",
            param="scheduler",
        )

    if port is None:  # check_scheduler_address() refuses such an address before Dask sees it
        fail("has no port")
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        fail(f"did not accept a connection within {timeout:g} s")
    except OSError as exc:
        fail(f"cannot be reached ({exc.strerror or exc})")
    with sock:

        def read(count: int) -> bytes:
            data = b""
            while len(data) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    fail(f"accepted the connection but sent no Dask handshake within {timeout:g} s")
                sock.settimeout(left)
                try:
                    chunk = sock.recv(count - len(data))
                except TimeoutError:
                    fail(f"accepted the connection but sent no Dask handshake within {timeout:g} s")
                except OSError as exc:
                    fail(f"closed the connection ({exc.strerror or exc})")
                if not chunk:
                    fail("closed the connection without a Dask handshake: it is not a Dask scheduler")
                data += chunk
            return data

        (size,) = struct.unpack("<Q", read(8))
        if not 0 < size <= _MAX_HANDSHAKE:
            fail(f"is not a Dask scheduler (its first bytes announce a {size:,}-byte message)")
        read(int(size))


def make_executor(scheduler: str | None, workers: int) -> LocalExecutor | DaskExecutor:
    """A local pool (``scheduler`` None) or a Dask executor; ``$SPECDIAG_CONNECT_TIMEOUT`` (seconds)
    replaces :data:`CONNECT_TIMEOUT_S`."""
    if scheduler is None:
        return LocalExecutor(workers)
    return DaskExecutor(scheduler, workers, timeout=connect_timeout())


def connect_timeout() -> float:
    """:data:`CONNECT_TIMEOUT_S`, or ``$SPECDIAG_CONNECT_TIMEOUT`` (seconds, at most an hour); a
    bad value is one line naming the environment variable (it is not a flag)."""
    import os  # noqa: PLC0415

    from ._validation import positive_number  # noqa: PLC0415

    text = os.environ.get("SPECDIAG_CONNECT_TIMEOUT")
    if text is None:
        return CONNECT_TIMEOUT_S
    try:
        return positive_number(text, "timeout", maximum=3600)
    except InputError:
        raise InputError(
            "the environment variable SPECDIAG_CONNECT_TIMEOUT must be a number of seconds in (0, 3600], "
            f"got {printable(text)!r}: fix or unset it"
        ) from None
