"""Writers and tables: JSON/CSV/Markdown documents, atomic files, run metadata, rich tables.

Every writer refuses NaN/inf (a result that overflowed must say so, not print ``nan``), and every
file lands atomically: written to a temporary file in the target directory, then renamed.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import InputError

__all__ = ["FORMATS", "check_format", "to_builtin", "json_document", "csv_document", "markdown_table", "atomic_write_bytes", "atomic_write_text", "write_json_atomic", "write_npz_atomic", "prepare_out_dir", "run_metadata", "fmt_value", "rich_table"]

FORMATS = ("table", "json", "csv")


def check_format(fmt: str, allowed: Sequence[str] = FORMATS) -> str:
    if fmt not in allowed:
        raise InputError(f"unknown --format {fmt!r}: use one of {', '.join(allowed)}")
    return fmt


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


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write data to path via a temporary file in the same directory and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
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


def prepare_out_dir(out: Path | str | None) -> Path | None:
    """Create ``out`` if needed and prove it is writable, before any work is done."""
    if out is None:
        return None
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".specdiag-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"cannot write to --out {str(out)!r} ({exc.strerror or exc}): choose a writable directory") from None
    return out


def run_metadata(command: str, parameters: dict, *, device: str, elapsed_s: float, **extra) -> dict:
    """Everything needed to rerun and cite a run: parameters, versions, device, timing."""
    import scipy  # noqa: PLC0415

    from . import __version__  # noqa: PLC0415

    versions = {"specdiag": __version__, "python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__}
    if device == "gpu":
        from .backend import cupy_module  # noqa: PLC0415

        cp = cupy_module()
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
        v = float(v)
        if not math.isfinite(v):
            return "overflow"
        if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-4):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}f}".rstrip("0").rstrip(".") or "0"
    return str(v)


def rich_table(title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], caption: str | None = None):
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    rows = [list(row) for row in rows]
    for i, name in enumerate(header):
        textual = i == 0 or all(isinstance(row[i], str) for row in rows)
        table.add_column(name, justify="left" if textual else "right", no_wrap=i == 0)
    for row in rows:
        table.add_row(*(fmt_value(v) for v in row))
    return table
