"""``check --plot DIR``: one eigenvalue-plane figure per checked row (a matrix, or a cell's Jacobian at rest), with
the unit circle, the ``--max-radius`` circle, the Glorot edge, the verdict in the title and the legend outside
the data."""

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


def eigenvalue_plane_figure(
    eigenvalues: np.ndarray,
    *,
    title: str,
    n: int | None,
    radius: float | None,
    max_radius: float | None = None,
    verdict: str | None = None,
    subtitle: str | None = None,
):
    """A square eigenvalue-plane figure: eigenvalues, the unit circle, the ``max_radius`` circle and
    (for matrices) the Glorot edge; the legend sits outside the axes, the verdict in the title."""
    from ._plots import new_figure  # noqa: PLC0415 (matplotlib, only when plotting)

    lam = np.asarray(eigenvalues, dtype=np.complex128)
    lam = lam[np.isfinite(lam)]
    fig, axes = new_figure(width=6.4, height=4.2)
    ax = axes[0, 0]
    theta = np.linspace(0, 2 * math.pi, 400)
    unit = "unit circle (= max radius)" if max_radius == 1.0 else "unit circle"
    ax.plot(np.cos(theta), np.sin(theta), color="black", lw=1.0, label=unit)
    extent = 1.1
    if max_radius is not None and max_radius != 1.0:
        ax.plot(
            max_radius * np.cos(theta),
            max_radius * np.sin(theta),
            color="tab:orange",
            lw=1.0,
            ls=":",
            label=f"max radius {max_radius:g}",
        )
        extent = max(extent, 1.05 * max_radius)
    if n is not None and n >= 2:
        edge, label = glorot_edge(n)
        ax.plot(edge * np.cos(theta), edge * np.sin(theta), color="tab:red", lw=0.9, ls="--", label=label)
        extent = max(extent, 1.05 * edge)
    if lam.size:
        extent = max(extent, 1.05 * float(np.abs(lam).max()))
        ax.scatter(
            lam.real,
            lam.imag,
            s=4 if lam.size > 500 else 10,
            alpha=0.7,
            color="tab:blue",
            label=f"eigenvalues ({lam.size})",
            linewidths=0,
        )
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel("Re lambda")
    ax.set_ylabel("Im lambda")
    shown = subtitle or ("radius overflows" if radius is None else f"radius {radius:.4g}")
    head = f"{verdict.upper()}: " if verdict else ""
    ax.set_title(f"{head}{title}\n{shown}", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, borderaxespad=0.0)  # outside the data
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
    """One PNG per checked row of a :class:`~specdiag._check.CheckReport` (made with keep_eigenvalues):
    a linear W's eigenvalues, or the eigenvalues of a cell's Jacobian at its rest state."""
    from ._plots import save_figure  # noqa: PLC0415 (matplotlib, only when plotting)

    out_dir = Path(out_dir)
    written: list = []
    used: set = set()
    max_radius = report.thresholds.max_radius
    for result in report.tensors:
        lam = getattr(result, "eigenvalues", None)
        if lam is None:
            continue
        if getattr(result, "cell", "linear") != "linear":
            rest = result.rest_state["radius"]
            subtitle = (
                f"{result.cell} Jacobian at rest (rho {rest:.4g}, information); "
                f"lambda = {result.lyapunov:.3g} +- {result.lyapunov_se:.1g} ({result.regime})"
            )
            fig = eigenvalue_plane_figure(
                lam,
                title=result.name,
                n=None,
                radius=rest,
                max_radius=max_radius,
                verdict=result.verdict,
                subtitle=subtitle,
            )
        else:
            n = None if result.diagonal else result.shape[0]
            fig = eigenvalue_plane_figure(
                lam, title=result.name, n=n, radius=result.radius, max_radius=max_radius, verdict=result.verdict
            )
        written.append(save_figure(fig, out_dir / plot_file_name(result.name, used)))
    return written
