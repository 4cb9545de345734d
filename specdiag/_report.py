"""Writers and tables: JSON/CSV/Markdown documents, atomic files, run metadata, rich tables.

Every writer refuses NaN/inf (a result that overflowed must say so, not print ``nan``), and every
file lands atomically: written to a temporary file in the target directory, then renamed, with the
permissions the umask gives (not mkstemp's 0600). A failed write (disk full, read-only) is a
:class:`WriteError`: one line naming the path and the errno, and no temporary file left behind.

A run directory (``out``) is checked by :func:`prepare_out_dir` before any work: an empty or
new directory, or a run of the same command with the same parameters (resumed or rerun); anything
else is refused unless ``force``. A single-shot run's files land as one unit
(:func:`write_run_files`: a temporary directory renamed into place, or ``run.json`` written last).

Two runs never share a directory. Every command's run directory is created and locked (``flock``
on the directory itself, :func:`lock_run_dir`) before its contents are checked and held for the
run's whole life: :func:`claim_run_dir` (sweeps, reproduce) and :func:`hold_run_dir` (single-shot
runs, from before their computation until their files are written). The loser raises
:class:`RunDirBusy` (one line, exit 2) at once and writes nothing; a directory a claim created is
removed again if the run ends before writing into it. A library caller writing a report itself
(:func:`prepare_out_dir` then :func:`write_run_files`) is still safe: a new directory is claimed
atomically by renaming the files' temporary directory onto it, which fails if another run got
there first.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import errno as _errno
import fcntl
import io
import json
import math
import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, overload

import numpy as np

from ._errors import InputError
from ._text import printable

__all__ = [
    "MANIFEST",
    "WriteError",
    "UnreadableFile",
    "RunDirBusy",
    "quote_path",
    "lock_run_dir",
    "release_run_dir",
    "claim_run_dir",
    "hold_run_dir",
    "to_builtin",
    "json_document",
    "csv_document",
    "markdown_table",
    "atomic_write_bytes",
    "atomic_write_text",
    "write_json_atomic",
    "write_npz_atomic",
    "read_npz",
    "prepare_out_dir",
    "write_run_files",
    "remove_stale_temps",
    "discard_files",
    "resume_or_discard",
    "file_mode",
    "run_metadata",
    "fmt_value",
]


def to_builtin(obj: Any, path: str = "$") -> Any:
    """numpy scalars/arrays to Python types; raises ValueError naming the first non-finite value."""
    if isinstance(obj, dict):
        return {str(k): to_builtin(v, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_builtin(v, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return to_builtin(obj.tolist(), path)
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        if not math.isfinite(value):
            raise ValueError(f"non-finite result at {path} ({value}): it overflowed or was undefined")
        return value
    if isinstance(obj, Path):
        return str(obj)
    return obj


def json_document(obj: Any) -> str:
    return json.dumps(to_builtin(obj), indent=2, allow_nan=False) + "\n"


def csv_document(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in to_builtin(list(row))])
    return buffer.getvalue()


def _csv_cell(v: Any) -> Any:
    return repr(v) if isinstance(v, float) else v


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt_value(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


class WriteError(InputError):
    """A file could not be written (disk full, read-only, permissions): names the path and errno."""


class RunDirBusy(InputError):
    """Another specdiag run holds the run directory (or wrote it while this run computed)."""


def quote_path(path: Path | str) -> str:
    """A path for a one-line message: quoted, control characters escaped (once).

    Examples
    --------
    >>> print(quote_path("runs/a\\nb"))
    'runs/a\\nb'
    """
    return f"'{printable(path)}'"


class UnreadableFile(ValueError):
    """A cached result file (stage or task .npz) is truncated or corrupt: recompute it."""


#: the file written last into a run directory: its presence says the run's files are complete
MANIFEST = "run.json"

_TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else set and restored."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(directory: bool = False) -> int:
    """Permissions a new file (0666) or directory (0777) gets under the current umask."""
    return (0o777 if directory else 0o666) & ~_umask()


def _write_error(exc: OSError, path: Path | str) -> WriteError:
    code = _errno.errorcode.get(exc.errno, "") if exc.errno else ""
    detail = f"{exc.strerror or exc}" + (f" (errno {exc.errno}, {code})" if code else "")
    if exc.errno in (_errno.ENOSPC, _errno.EDQUOT):
        fix = "free some space or choose another out"
    else:
        fix = "choose a writable location"
    return WriteError(f"cannot write {quote_path(path)}: {detail}: {fix}")


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write data to path via a temporary file in the same directory and an atomic rename.

    The file gets the umask's permissions. Any OSError (ENOSPC, EROFS, EACCES) removes the
    temporary file and becomes a :class:`WriteError` naming ``path`` and the errno.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # noqa: PLC0415 (only when a file is written)

        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMP_SUFFIX, dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), file_mode())
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(exc, path) from None
        raise
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def write_json_atomic(path: Path | str, obj: Any) -> Path:
    return atomic_write_text(path, json_document(obj))


def write_npz_atomic(path: Path | str, arrays: dict) -> Path:
    """Arrays to an .npz, serialized in memory and then written atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def read_npz(path: Path | str, required: Sequence[str] = ()) -> dict:
    """Every array of an .npz (no pickles), read in full so a truncated file fails here.

    Raises
    ------
    UnreadableFile
        The file is truncated, corrupt, not an .npz, or lacks a ``required`` array.
    """
    import zipfile  # noqa: PLC0415
    import zlib  # noqa: PLC0415

    try:
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, AttributeError) as exc:
        raise UnreadableFile(f"{type(exc).__name__}: {exc}") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise UnreadableFile(f"missing array {', '.join(missing)}")
    return arrays


def _is_temp(name: str) -> bool:
    return name.startswith(".") and name.endswith(_TEMP_SUFFIX)


def _normalized(obj: Any) -> Any:
    return json.loads(json.dumps(to_builtin(obj), sort_keys=True))


def _stored_run(out: Path) -> dict | None:
    try:
        meta = json.loads((out / MANIFEST).read_text())
    except (OSError, ValueError, RecursionError):
        return None
    return meta if isinstance(meta, dict) and isinstance(meta.get("command"), str) else None


#: run directories this process holds: resolved path -> (pid, directory fd). The lock is an
#: ``flock`` on the directory's own descriptor: nothing is created in the directory for it, and
#: the kernel releases it when the process dies, however it dies.
_HELD: dict[str, tuple[int, int]] = {}
#: directories this process found new or empty when it claimed them: their writer must still find
#: them so, or another run got there first
_NEW: set[str] = set()


def _key(out: Path) -> str:
    return os.path.realpath(out)


def lock_run_dir(out: Path | str, *, param: str = "out") -> None:
    """Lock the existing directory ``out`` for this process (re-entrant within it).

    Raises
    ------
    RunDirBusy
        Another process holds it: one line naming ``param``.
    """
    out = Path(out)
    key = _key(out)
    held = _HELD.get(key)
    if held is not None and held[0] == os.getpid():
        return
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise InputError(
            f"{param} {quote_path(out)} cannot be opened ({exc.strerror}): choose another directory", param=param
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RunDirBusy(
            f"{param} {quote_path(out)} is in use by another specdiag run: wait for it to finish, or choose another "
            f"{param}",
            param=param,
        ) from None
    _HELD[key] = (os.getpid(), fd)


def release_run_dir(out: Path | str) -> None:
    """Release the lock this process holds on ``out`` (nothing if it holds none)."""
    key = _key(Path(out))
    _NEW.discard(key)
    held = _HELD.pop(key, None)
    if held is not None and held[0] == os.getpid():
        with contextlib.suppress(OSError):
            os.close(held[1])


@contextlib.contextmanager
def claim_run_dir(out: Path | str, *, param: str = "out"):
    """Create (if needed) and lock ``out`` for the life of a run (sweep, reproduce; and a one-shot
    run's computation, :func:`hold_run_dir`).

    The directory is locked before its contents are checked, so of two runs started together one
    wins and the other raises :class:`RunDirBusy` before it writes anything. On exit the lock is
    released; the directories this claim created (``out`` and any missing parents) are removed if
    they are still empty (the run was refused, failed or interrupted before writing).
    """
    out = Path(out)
    _refuse_dangling(out, param)
    created: list[Path] = []  # deepest first
    probe = out.absolute()
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        created.append(probe)
        probe = probe.parent
    try:
        out.mkdir(parents=True)
    except FileExistsError:
        created = []  # made by the user, or by another run a moment ago: not ours to remove
        if not out.is_dir():
            raise InputError(
                f"{param} {quote_path(out)} is a file, not a directory: choose a directory", param=param
            ) from None
    except OSError as exc:
        raise _write_error(exc, out) from None
    try:
        lock_run_dir(out, param=param)
    except RunDirBusy:
        raise  # another run locked what this one created a moment ago: it is that run's now
    except InputError:
        _remove_if_empty(created)
        raise
    try:
        yield out
    finally:
        release_run_dir(out)
        _remove_if_empty(created)


def _remove_if_empty(paths: list[Path]) -> None:
    """Remove the directories ``paths`` (deepest first) while they are empty."""
    for path in paths:
        try:
            path.rmdir()
        except OSError:
            break


@contextlib.contextmanager
def hold_run_dir(
    out: Path | str, *, command: str, parameters: dict | None = None, force: bool = False, param: str = "out"
):
    """Claim ``out`` for a one-shot run (radius, trajectory, hidden) before it computes, and hold
    it until its files are written, so that of two runs into one ``out`` the loser stops at once.

    The checks of :func:`prepare_out_dir` (writable; new, empty, or the same run unless ``force``)
    run under the lock of :func:`claim_run_dir`. Whatever ends the run before its files are written
    (an error, Ctrl-C) leaves ``out`` as it was: a directory the claim created is removed, one the
    user had is not touched (nothing is written into it before :func:`write_run_files`).

    Raises
    ------
    RunDirBusy
        Another specdiag run holds ``out``: one line, before any work.
    """
    prepare_out_dir(out, param=param)  # a file, a dangling link, an unwritable parent: before creating anything
    with claim_run_dir(out, param=param) as path:
        _NEW.discard(_key(path))
        _check_contents(path, command, parameters, force, param)
        yield path


def _refuse_dangling(out: Path, param: str) -> None:
    if out.is_symlink() and not out.exists():
        raise InputError(
            f"{param} {quote_path(out)} is a symbolic link to {quote_path(os.readlink(out))}, which does not exist: "
            f"remove the link or choose another {param}",
            param=param,
        )


@overload
def prepare_out_dir(
    out: Path | str,
    *,
    command: str | None = None,
    parameters: dict | None = None,
    force: bool = False,
    param: str = "out",
) -> Path: ...


@overload
def prepare_out_dir(
    out: Path | str | None,
    *,
    command: str | None = None,
    parameters: dict | None = None,
    force: bool = False,
    param: str = "out",
) -> Path | None: ...


def prepare_out_dir(
    out: Path | str | None,
    *,
    command: str | None = None,
    parameters: dict | None = None,
    force: bool = False,
    param: str = "out",
) -> Path | None:
    """Claim ``out`` for a run, before any work is done; create nothing yet.

    ``out`` may be new, empty, or hold a run of the same ``command`` with the same ``parameters``
    (its ``run.json`` "config", else "parameters"): that run is resumed or rerun. Anything else
    (another command's run, other parameters, files specdiag did not write) is refused unless
    ``force``. Without ``command`` only writability is checked (a figure's directory).

    With ``command``, an existing directory is locked (:func:`lock_run_dir`) until
    :func:`write_run_files` has written it; a new or empty one is remembered as new, so that the
    writer refuses it if another run has filled it meanwhile.

    Raises
    ------
    InputError
        Naming ``param``, what the directory holds and the fix (``force`` to overwrite).
    RunDirBusy
        Another specdiag run holds ``out``.
    """
    if out is None:
        return None
    out = Path(out)
    _refuse_dangling(out, param)
    if out.exists() and not out.is_dir():
        raise InputError(f"{param} {quote_path(out)} is a file, not a directory: choose a directory", param=param)
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(
            f"{param} {quote_path(out)} cannot be written ({quote_path(probe)} is not a writable directory): choose a "
            "writable directory",
            param=param,
        )
    if command is None:
        return out
    _NEW.discard(_key(out))  # a claim this process left by an earlier, failed run
    if not out.is_dir():
        _NEW.add(_key(out))
        return out
    lock_run_dir(out, param=param)
    try:
        _check_contents(out, command, parameters, force, param)
    except InputError:
        release_run_dir(out)
        raise
    return out


def _check_contents(out: Path, command: str, parameters: dict | None, force: bool, param: str) -> None:
    """Refuse a directory holding anything but a run of ``command`` with ``parameters`` (unless ``force``)."""
    try:
        entries = [e.name for e in out.iterdir() if not _is_temp(e.name)]
    except OSError as exc:
        raise InputError(
            f"{param} {quote_path(out)} cannot be listed ({exc.strerror}): choose another directory", param=param
        ) from None
    if not entries:
        _NEW.add(_key(out))
        return
    if force:
        return
    meta = _stored_run(out)
    if meta is None:
        raise InputError(
            f"{param} {quote_path(out)} is not empty and holds no specdiag run: choose a new or empty directory, or "
            "pass force to write into it",
            param=param,
        )
    if meta["command"] != command:
        raise InputError(
            f"{param} {quote_path(out)} holds a {printable(meta['command'])} run: choose another directory for "
            f"{command}, or pass force to overwrite it",
            param=param,
        )
    if parameters is not None:
        stored = meta.get("config", meta.get("parameters"))
        current = _normalized(parameters)
        if not isinstance(stored, dict) or _normalized(stored) != current:
            stored = stored if isinstance(stored, dict) else {}
            diff = sorted(k for k in set(current) | set(stored) if stored.get(k) != current.get(k))
            raise InputError(
                f"{param} {quote_path(out)} holds a {command} run with other "
                f"{printable(', '.join(diff)) or 'parameters'}: "
                f"use its options to resume it, a new directory, or force to overwrite it",
                param=param,
            )


def write_run_files(out: Path | str, files: dict[str, str | bytes]) -> Path:
    """Write a run's files (``run.json`` among them) into ``out`` as one unit.

    A new or empty ``out``: every file goes into a temporary sibling directory which is then
    renamed onto ``out``, so ``out`` appears complete or not at all. An existing run (a rerun, or
    ``force``): its ``run.json`` is removed first and written last, so a crash in between
    leaves no manifest claiming a complete run. ``out`` claimed new by :func:`prepare_out_dir`
    but filled by another run meanwhile is refused (:class:`RunDirBusy`), and nothing is written;
    the lock taken by the claim is released.
    """
    out = Path(out)
    try:
        return _write_run_files(out, files)
    finally:
        release_run_dir(out)


def _write_run_files(out: Path, files: dict[str, str | bytes]) -> Path:
    blobs = {name: data.encode() if isinstance(data, str) else data for name, data in files.items()}
    claimed_new = _key(out) in _NEW
    fresh = not out.exists() or (out.is_dir() and not any(out.iterdir()))
    taken = RunDirBusy(
        f"out {quote_path(out)} was written by another specdiag run while this one computed: nothing written; choose "
        "another out",
        param="out",
    )
    if claimed_new and not fresh:
        raise taken
    if fresh:
        if out.is_dir():
            lock_run_dir(out)  # an empty directory another run may be about to fill
        tmp = None
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            import tempfile  # noqa: PLC0415 (only when a run is written)

            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=_TEMP_SUFFIX, dir=out.parent))
            os.chmod(tmp, file_mode(directory=True))
            for name, data in blobs.items():
                target = tmp / name
                with open(target, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            os.rename(tmp, out)  # onto an absent or empty directory: atomic
            tmp = None
        except OSError as exc:
            if exc.errno in (_errno.ENOTEMPTY, _errno.EEXIST) and claimed_new:
                raise taken from None
            raise _write_error(exc, out) from None
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        return out
    manifest = blobs.pop(MANIFEST, None)
    try:
        (out / MANIFEST).unlink(missing_ok=True)
    except OSError as exc:
        raise _write_error(exc, out / MANIFEST) from None
    for name, data in blobs.items():
        atomic_write_bytes(out / name, data)
    if manifest is not None:
        atomic_write_bytes(out / MANIFEST, manifest)
    return out


def remove_stale_temps(out: Path | str) -> list[Path]:
    """Delete the temporary files a killed run left in ``out`` (``.NAME.XXXX.tmp``); their paths."""
    out = Path(out)
    removed: list[Path] = []
    if not out.is_dir():
        return removed
    for path in sorted(out.rglob(f".*{_TEMP_SUFFIX}")):
        if _is_temp(path.name):
            with contextlib.suppress(OSError):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                removed.append(path)
    return removed


def discard_files(out: Path | str, patterns: Sequence[str]) -> int:
    """Delete the files of a previous run matching ``patterns`` (``--force`` over another run).

    ``run.json`` goes first, so an interruption never leaves a manifest over mixed files.
    """
    out = Path(out)
    count = 0
    for pattern in (MANIFEST, *patterns):
        for path in sorted(out.glob(pattern)):
            if path.is_file() or path.is_symlink():
                try:
                    path.unlink()
                except OSError as exc:
                    raise _write_error(exc, path) from None
                count += 1
    return count


def resume_or_discard(
    out: Path,
    patterns: Sequence[str],
    differences: Callable[[dict], Sequence[str]],
    *,
    force: bool,
    not_a_run: str,
    other_run: Callable[[Sequence[str]], str],
) -> None:
    """Let a run resume in ``out`` only with the options of the run already there.

    ``differences`` takes the stored ``run.json``'s ``config`` and names the options that differ
    (empty: the same run, resumed); it may raise on a config it cannot read. A run.json that cannot
    be read or compared raises ``not_a_run``, other options ``other_run(differences)``; with ``force``
    the other run's files (``run.json`` and ``patterns``) are discarded instead.
    """
    meta = out / MANIFEST
    if not meta.exists():
        return
    try:
        diff = differences(json.loads(meta.read_text())["config"])
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        if not force:
            raise InputError(not_a_run, param="out") from None
        diff = ["config"]
    if diff and force:
        discard_files(out, patterns)
    elif diff:
        raise InputError(other_run(diff), param="out")


def run_metadata(command: str, parameters: dict, *, device: str, elapsed_s: float, **extra) -> dict:
    """Everything needed to rerun and cite a run: parameters, versions, device, timing."""
    import scipy  # noqa: PLC0415

    from . import __version__  # noqa: PLC0415

    versions = {
        "specdiag": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }
    if device == "gpu":
        from ._backend import cupy_module  # noqa: PLC0415

        cp = cupy_module()
        assert cp is not None, "device 'gpu' is resolved only when CuPy sees a device"
        versions["cupy"] = cp.__version__
        extra.setdefault("gpu", cp.cuda.runtime.getDeviceProperties(0)["name"].decode())
    return {
        "command": command,
        "parameters": parameters,
        "device": device,
        "elapsed_s": elapsed_s,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "argv": sys.argv,
        "platform": platform.platform(),
        "versions": versions,
        **extra,
    }


def fmt_value(v: Any, digits: int = 5) -> str:
    """A compact human rendering of a number (or passthrough for text)."""
    if v is None:
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        v = float(v) + 0.0  # -0.0 prints as 0
        if not math.isfinite(v):
            return "overflow"
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-4):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(v)
