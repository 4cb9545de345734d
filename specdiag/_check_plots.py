"""``check --plot DIR``: one eigenvalue-plane figure per checked tensor, unit circle and Glorot edge drawn."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

__all__ = ["glorot_edge", "eigenvalue_plane_figure", "write_check_plots", "plot_file_name"]


def glorot_edge(n: int) -> tuple[float, str]:
    """(radius, label) of the Glorot spectral edge at width n: 1 + sqrt(g_n / 4n) for n >= 164
    (Rider's centring), the finite-n law's median below (real law when available, else Kostlan)."""
    from . import laws, _theory as theory  # noqa: PLC0415

    if n >= theory.LAST_UNDEFINED_N + 1:
        return theory.rider_location(n), f"Glorot edge 1 + sqrt(g_n/4n), n = {n}"
    try:
        median, what = float(laws.real_ginibre(n).ppf(0.5)), "real"
    except Exception:  # the real-law table is not available: the exact complex law
        median, what = float(laws.kostlan(n).ppf(0.5)), "complex"
    return median, f"Glorot median radius ({what} law), n = {n}"


def eigenvalue_plane_figure(eigenvalues: np.ndarray, *, title: str, n: int | None, radius: float | None):
    """A square eigenvalue-plane figure: eigenvalues, the unit circle and (for matrices) the Glorot edge."""
    from ._plots import new_figure  # noqa: PLC0415

    lam = np.asarray(eigenvalues, dtype=np.complex128)
    lam = lam[np.isfinite(lam)]
    fig, axes = new_figure(width=4.2, height=4.2)
    ax = axes[0, 0]
    theta = np.linspace(0, 2 * math.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="black", lw=1.0, label="unit circle")
    extent = 1.1
    if n is not None and n >= 2:
        edge, label = glorot_edge(n)
        ax.plot(edge * np.cos(theta), edge * np.sin(theta), color="tab:red", lw=0.9, ls="--", label=label)
        extent = max(extent, 1.05 * edge)
    if lam.size:
        extent = max(extent, 1.05 * float(np.abs(lam).max()))
        ax.scatter(lam.real, lam.imag, s=4 if lam.size > 500 else 10, alpha=0.7, color="tab:blue", label=f"eigenvalues ({lam.size})", linewidths=0)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("Re lambda")
    ax.set_ylabel("Im lambda")
    shown = "overflows" if radius is None else f"{radius:.4g}"
    ax.set_title(f"{title}\nradius {shown}", fontsize=9)
    ax.legend(loc="lower left", fontsize=7)
    return fig


def plot_file_name(name: str, used: set) -> str:
    """A safe, unique .png file name for tensor ``name``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "tensor"
    stem = stem[:120]
    candidate, i = stem, 1
    while candidate in used:
        i += 1
        candidate = f"{stem}-{i}"
    used.add(candidate)
    return candidate + ".png"


def write_check_plots(report, out_dir: Path | str) -> list[Path]:
    """One PNG per checked tensor of a :class:`~specdiag._check.CheckReport` (made with keep_eigenvalues)."""
    from ._plots import save_figure  # noqa: PLC0415

    out_dir = Path(out_dir)
    written, used = [], set()
    for result in report.tensors:
        if getattr(result, "eigenvalues", None) is None:
            continue
        n = None if result.diagonal else result.shape[0]
        fig = eigenvalue_plane_figure(result.eigenvalues, title=result.name, n=n, radius=result.radius)
        written.append(save_figure(fig, out_dir / plot_file_name(result.name, used)))
    return written
