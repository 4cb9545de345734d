"""Figures with matplotlib's object API (Figure + Agg canvas, no pyplot global state).

Panel functions draw onto a given Axes; figure functions build a Figure from arrays, so the same
arrays (saved in a run directory) always redraw the same figure. ``save_figure`` writes atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import _theory as theory
from ._report import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.typing import RcKeyType

__all__ = [
    "STYLE",
    "COLORS",
    "CURVE_STYLES",
    "WARNING_COLOR",
    "LOG_AXIS_LIMIT",
    "VECTOR_FORMATS",
    "new_figure",
    "save_figure",
    "radius_density_panel",
    "norm_curves_panel",
    "eigenvalue_panel",
    "radius_figure",
    "norm_figure",
    "radius_theory_curves",
    "gaussian_law_curves",
    "fit_figure",
    "figure_radius_dynamics",
    "figure_real_vs_complex_radii",
    "figure_hidden_real_vs_complex",
    "figure_eigenvalues",
    "figure_modulus_density",
    "figure_sweep_excess",
    "figure_sweep_p_above",
    "figure_sweep_collapse",
]

STYLE: dict[RcKeyType, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 7,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
COLORS = {"real": "#1f77b4", "complex": "#d62728", "glorot": "#1f77b4", "rescaled": "#2ca02c", "theory": "#222222"}
#: matrices that break a panel's promise (rho > 1 under a rescaled init) are drawn in this colour
WARNING_COLOR = "#ff7f0e"
#: one distinct style per kind of curve, so a reader can tell them apart in black and white too
CURVE_STYLES = {
    "real_table": {"color": "#08306b", "ls": "-", "lw": 1.5},  # finite-n real law (Monte Carlo table)
    "exact_complex": {"color": "#67000d", "ls": "--", "lw": 1.5},  # Kostlan's exact complex law
    "exact": {"color": "#222222", "ls": "-", "lw": 1.5},  # any other exact law (diagonal inits)
    "limit": {"color": "#555555", "ls": ":", "lw": 1.6},  # Rider / Rider-Sinclair limit, n -> inf
    "fitted": {"color": "#7b3294", "ls": (0, (6, 2, 1, 2)), "lw": 1.3},  # ML Gumbel fit
    "rho1": {"color": "#000000", "ls": (0, (1, 1)), "lw": 0.9, "alpha": 0.55},  # the line rho = 1 (thin, dotted grey)
}
#: largest log10 value drawn on a true log axis; above it the axis shows log10 values (float64 range)
LOG_AXIS_LIMIT = 300.0
VECTOR_FORMATS = ("pdf", "svg")


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 4.0, height: float = 3.2):
    """A Figure with an Agg canvas and a grid of Axes (always a 2-D array)."""
    import matplotlib  # noqa: PLC0415

    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig: Figure, path: Path | str, dpi: int = 150) -> Path:
    """Render to memory, then write atomically; the format follows the file suffix."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    metadata = (
        {"Software": None}
        if fmt == "png"
        else ({"Creator": None, "Producer": None, "CreationDate": None} if fmt == "pdf" else {"Date": None})
    )
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return atomic_write_bytes(path, buffer.getvalue())


def _legend_below(ax, ncol: int = 2, handles=None, labels=None):
    """The legend under the axes (outside the data); constrained layout makes room for it."""
    kwargs = {} if handles is None else {"handles": handles, **({} if labels is None else {"labels": labels})}
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol, frameon=False, fontsize=7, **kwargs)


def _counts(ax, text: str):
    """Sample sizes in the panel's top-left corner."""
    ax.text(
        0.02,
        0.97,
        text,
        transform=ax.transAxes,
        va="top",
        ha="left",
        fontsize=7,
        bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1.5},
    )


def _rho_one(ax):
    ax.axvline(1.0, label=r"$\rho = 1$", **CURVE_STYLES["rho1"])


def _x_range(radii, points: int = 400, include_one: bool = True) -> np.ndarray:
    """Grid over the data, padded, and stretched to show rho = 1 when it is near the data."""
    radii = np.asarray(radii, dtype=float)
    lo, hi = float(radii.min()), float(radii.max())
    pad = 0.3 * (hi - lo) + 1e-3
    lo, hi = lo - pad, hi + pad
    if include_one and lo - 0.2 < 1.0 < hi + 0.2:
        lo, hi = min(lo, 1.0 - 0.15 * (hi - lo)), max(hi, 1.0 + 0.15 * (hi - lo))
    return np.linspace(max(lo, 1e-6), hi, points)


def radius_density_panel(
    ax,
    radii,
    *,
    title: str = "",
    color: str = COLORS["real"],
    label: str = "sample",
    curves=(),
    counts: str | None = None,
):
    """Histogram (density) of sampled radii, theoretical densities, and the line rho = 1.

    curves: iterable of (x, density, label) or (x, density, label, style), style a key of
    :data:`CURVE_STYLES`. The legend sits under the axes; the x-range always shows rho = 1 when it
    is near the data.
    """
    radii = np.asarray(radii, dtype=float)
    x = _x_range(radii)
    bins = np.linspace(radii.min(), radii.max(), max(10, min(60, int(2 * math.sqrt(radii.size)))) + 1)
    ax.hist(radii, bins=bins, density=True, alpha=0.45, color=color, label=f"{label} ({radii.size} radii)")
    fallback = ["exact", "limit", "fitted"]
    for i, curve in enumerate(curves):
        cx, cy, name = curve[:3]
        style = CURVE_STYLES[curve[3] if len(curve) > 3 else fallback[i % 3]]
        ax.plot(cx, cy, label=name, **style)
    _rho_one(ax)
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel(r"spectral radius $\rho(W)$")
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    if counts:
        _counts(ax, counts)
    _legend_below(ax)
    return ax


def _robust_limits(curves: np.ndarray, bands: np.ndarray | None, keep: np.ndarray) -> tuple[float, float]:
    """log10 y-limits from the kept curves (and their bands), with a 5% margin."""
    lo_vals = curves[keep] - (0 if bands is None else bands[keep])
    hi_vals = curves[keep] + (0 if bands is None else bands[keep])
    lo, hi = float(np.min(lo_vals)), float(np.max(hi_vals))
    margin = 0.05 * max(hi - lo, 0.1)
    return lo - margin, hi + margin


def norm_curves_panel(
    ax,
    steps,
    log10_mean,
    log10_std=None,
    *,
    ylabel: str,
    xlabel: str,
    title: str = "",
    color=None,
    exact=None,
    max_lines: int = 100,
    inputs: int | None = None,
    flagged: dict | None = None,
    exact_label: str = "exact RMS expectation",
):
    """One line per matrix (log10 of the mean norm over inputs), light, and one visible band: the
    median over matrices of each matrix's +-1 sd over inputs (log scale), around the median line.

    With up to 100 lines a band per matrix disappears under the lines (issue 19); one band for
    the typical matrix stays readable. A key says what a line and the band are; the panel states
    matrices x inputs x steps. ``flagged`` maps a matrix index to a label (e.g. its radius above
    1): those curves are drawn in :data:`WARNING_COLOR`, named in the legend, and left out of the
    y-range (robust limits), so one exploding matrix cannot flatten the others. Values beyond
    float64 are shown as log10 on a linear axis, labelled so.
    """
    from matplotlib.colors import to_rgb  # noqa: PLC0415 (matplotlib: only when drawing)
    from matplotlib.lines import Line2D  # noqa: PLC0415 (matplotlib: only when drawing)
    from matplotlib.patches import Patch  # noqa: PLC0415 (matplotlib: only when drawing)

    steps = np.asarray(steps)
    curves = np.atleast_2d(np.asarray(log10_mean, dtype=float))
    bands = None if log10_std is None else np.atleast_2d(np.asarray(log10_std, dtype=float))
    flagged = {int(i): text for i, text in (flagged or {}).items() if int(i) < min(curves.shape[0], max_lines)}
    shown = min(curves.shape[0], max_lines)
    keep = np.array([i not in flagged for i in range(curves.shape[0])])
    keep[shown:] = False
    if not keep.any():
        keep[:shown] = True
    lo, hi = _robust_limits(curves, bands, keep)
    if exact is not None:
        exact = np.asarray(exact, dtype=float)
        lo, hi = min(lo, float(exact.min())), max(hi, float(np.max(exact)) if not flagged else hi)
    true_log = hi < LOG_AXIS_LIMIT
    transform = (lambda v: 10.0**v) if true_log else (lambda v: v)  # noqa: E731
    color = color or COLORS["glorot"]
    kept = [i for i in range(shown) if i not in flagged]
    line_alpha = 0.55 if len(kept) <= 10 else max(0.12, 0.55 * math.sqrt(10 / len(kept)))
    for i in kept:
        ax.plot(steps, transform(curves[i]), color=color, lw=0.5, alpha=line_alpha)
    handles: list[Artist] = [
        Line2D([], [], color=color, lw=0.8, alpha=max(line_alpha, 0.4), label="one W: mean over inputs")
    ]
    if bands is not None and kept:
        mid = np.median(curves[kept], axis=0)
        band_lo, band_hi = np.median(curves[kept] - bands[kept], axis=0), np.median(curves[kept] + bands[kept], axis=0)
        red, green, blue = to_rgb(color)
        dark = (0.55 * red, 0.55 * green, 0.55 * blue)  # the band's edges: visible over the lines
        ax.fill_between(steps, transform(band_lo), transform(band_hi), facecolor=color, alpha=0.45, lw=0, zorder=3)
        for edge in (band_lo, band_hi):
            ax.plot(steps, transform(edge), color=dark, lw=0.7, zorder=3)
        ax.plot(steps, transform(mid), color="black", lw=0.8, zorder=4)
        handles.append(Line2D([], [], color="black", lw=0.8, label="median over W"))
        handles.append(
            Patch(
                facecolor=color,
                alpha=0.45,
                edgecolor=dark,
                lw=0.7,
                label=r"median W $\pm 1$ sd over inputs (log scale)",
            )
        )
    for i, text in flagged.items():
        off = float(curves[i].max()) > hi
        (line,) = ax.plot(
            steps,
            transform(np.minimum(curves[i], hi + 1.0) if off else curves[i]),
            color=WARNING_COLOR,
            lw=1.4,
            zorder=4,
        )
        line.set_label(text + (" (leaves the axis)" if off else ""))
        handles.append(line)
    if exact is not None:
        (line,) = ax.plot(steps, transform(exact), color=COLORS["theory"], lw=1.5, ls="--", label=exact_label, zorder=5)
        handles.append(line)
    if true_log:
        ax.set_yscale("log")
        ax.set_ylim(10.0**lo, 10.0**hi)
        ax.set_ylabel(ylabel)
    else:
        ax.set_ylim(lo, hi)
        ax.set_ylabel(f"log10 {ylabel}")
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    stride = (
        np.unique(np.diff(steps)[1:-1]) if steps.size > 3 else np.array([1])
    )  # the first and last gaps may be ragged
    count = f"{curves.shape[0]} matrices" + (f" x {inputs} inputs" if inputs else "") + f" x {int(steps[-1])} steps"
    count += f" (recorded every {int(stride[0])})" if stride.size == 1 and stride[0] > 1 else ""
    _counts(ax, count if shown == curves.shape[0] else f"{count} ({shown} drawn)")
    _legend_below(ax, handles=handles)
    return ax


def eigenvalue_panel(ax, eigenvalues, *, title: str = "", color: str = COLORS["real"], zoom: bool = True):
    """Eigenvalues in the complex plane with the unit circle; the largest modulus is circled, and an
    inset zooms on the edge around it (where the excess over the unit circle shows)."""
    w = np.asarray(eigenvalues)
    theta = np.linspace(0, 2 * np.pi, 800)
    top = int(np.argmax(np.abs(w)))
    ax.plot(np.cos(theta), np.sin(theta), label="unit circle", **{**CURVE_STYLES["rho1"], "alpha": 0.9})
    ax.scatter(w.real, w.imag, s=3, color=color, alpha=0.6, lw=0, label=f"{w.size} eigenvalues")
    ax.scatter(
        [w[top].real],
        [w[top].imag],
        s=40,
        facecolors="none",
        edgecolors="black",
        lw=1.0,
        label=rf"largest: $\rho$ = {abs(w[top]):.4f}",
    )
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    if title:
        ax.set_title(title, fontsize=9)
    if zoom:
        z = w[top]
        half = 0.12
        inset = ax.inset_axes([0.755, 0.755, 0.23, 0.23])
        inset.plot(np.cos(theta), np.sin(theta), **{**CURVE_STYLES["rho1"], "alpha": 0.9})
        near = np.abs(w - z) < 3 * half
        inset.scatter(w[near].real, w[near].imag, s=6, color=color, alpha=0.8, lw=0)
        inset.scatter([z.real], [z.imag], s=40, facecolors="none", edgecolors="black", lw=1.0)
        inset.set_xlim(z.real - half, z.real + half)
        inset.set_ylim(z.imag - half, z.imag + half)
        inset.set_aspect("equal")
        inset.set_xticks([])
        inset.set_yticks([])
        # the label inside the inset (a title above it ran into the frame of the panel)
        inset.text(
            0.5,
            0.03,
            "zoomed box",
            transform=inset.transAxes,
            fontsize=5.5,
            ha="center",
            va="bottom",
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 0.8},
        )
        # mark the zoomed box only: connector lines would cross the spectrum
        zoom = ax.indicate_inset([z.real - half, z.imag - half, 2 * half, 2 * half], edgecolor="black", alpha=0.8)
        for connector in getattr(zoom, "connectors", None) or ():
            connector.set_visible(False)
    _legend_below(ax, ncol=1)
    return ax


def radius_figure(radii, *, n: int, field: str, init: str, curves=()) -> Figure:
    """A single radius-density panel (``radius --plot``, ``fit-gumbel --plot``)."""
    fig, axes = new_figure(height=3.8)
    radius_density_panel(
        axes[0, 0], radii, title=f"{init}, {field}, n = {n}", color=COLORS.get(field, COLORS["real"]), curves=curves
    )
    return fig


def norm_figure(
    steps,
    log10_mean,
    log10_std,
    *,
    ylabel: str,
    xlabel: str,
    title: str,
    exact=None,
    inputs: int | None = None,
    exact_label: str = "exact RMS expectation",
) -> Figure:
    """A single norm-vs-step panel (``trajectory --plot``, ``hidden --plot``)."""
    fig, axes = new_figure(width=5.0, height=3.8)
    norm_curves_panel(
        axes[0, 0],
        steps,
        log10_mean,
        log10_std,
        ylabel=ylabel,
        xlabel=xlabel,
        title=title,
        exact=exact,
        inputs=inputs,
        exact_label=exact_label,
    )
    return fig


# ---------------------------------------------------------------------------------------------
# Theory curves
# ---------------------------------------------------------------------------------------------


def gaussian_law_curves(n: int, gain: float, radii, *, field: str | None = None) -> list:
    """Finite-n laws of rho(gain W) at width n over the range of ``radii``: the finite-n real law
    (Monte Carlo table) and/or Kostlan's exact complex law, and, for n >= 164, the limit law of
    ``field`` (labelled as the limit). With ``field`` only that field's laws are drawn (the other
    field's curve on a one-field histogram distracts); without it both finite-n laws (Figure 3).
    Curves are (x, density, label, style)."""
    from . import laws  # noqa: PLC0415 (scipy-backed laws: only when drawing)

    x = _x_range(radii)
    curves = []
    if field in (None, "real"):
        curves.append((x, laws.real_ginibre(n).pdf(x / gain) / gain, "finite-n real law (table)", "real_table"))
    if field in (None, "complex"):
        curves.append((x, laws.kostlan(n).pdf(x / gain) / gain, "exact complex law (Kostlan)", "exact_complex"))
    if field is not None and n > theory.LAST_UNDEFINED_N:
        limit = laws.rider(n) if field == "complex" else laws.rider_sinclair(n)
        name = "Rider" if field == "complex" else "Rider-Sinclair"
        curves.append((x, limit.pdf(x / gain) / gain, f"{name} limit, n -> inf", "limit"))
    return curves


def radius_theory_curves(ensemble, radii) -> list:
    """Densities over the range of ``radii`` of the ensemble's radius law (exact, or the finite-n
    table for real Gaussian inits) and, for Gaussian inits at n >= 164, its limit (labelled so)."""
    if ensemble.kind == "gaussian":
        return gaussian_law_curves(ensemble.n, ensemble.gain, radii, field=ensemble.field)
    x = _x_range(radii)
    law, source = ensemble.spec.law(ensemble)
    return [] if law is None else [(x, law.pdf(x), source, "exact")]


def fit_figure(radii, comparison: dict, *, n: int, field: str, init: str) -> Figure:
    """``fit-gumbel --plot``: the radii's density with the fitted, finite-n and limit laws."""
    from scipy import stats  # noqa: PLC0415

    from . import laws  # noqa: PLC0415

    x = _x_range(radii)
    fit = comparison["fit"]
    curves = [(x, stats.gumbel_r.pdf(x, fit["loc"], fit["scale"]), "fitted Gumbel (ML)", "fitted")]
    if comparison.get("exact"):
        curves.append((x, laws.kostlan(n).pdf(x), "exact complex law (Kostlan)", "exact_complex"))
    if comparison.get("finite_n_real"):
        curves.append((x, laws.real_ginibre(n).pdf(x), "finite-n real law (table)", "real_table"))
    if comparison.get("asymptotic"):
        asym = comparison["asymptotic"]
        curves.append((x, stats.gumbel_r.pdf(x, asym["loc"], asym["scale"]), asym.get("label", "limit law"), "limit"))
    return radius_figure(radii, n=n, field=field, init=init, curves=curves)


# ---------------------------------------------------------------------------------------------
# The paper's figures (docs/science.md section 5)
# ---------------------------------------------------------------------------------------------


def figure_radius_dynamics(rows: dict, *, n: int, field: str, inputs: int | None = None) -> Figure:
    """Figures 1 (real) and 2 (complex): one row per init (glorot, rescaled); columns: radius
    density with the finite-n real and exact complex laws, ||W^k x|| per matrix, ||h_t|| per matrix.

    rows[init] = {"radii", "gain", "trajectory": (steps, log10_mean, log10_sd), "hidden": (...)};
    matrix i of the dynamics is matrix i of the radii (same stream). In the rescaled row, matrices
    with rho > 1 are drawn in :data:`WARNING_COLOR` and named in the caption line.
    """
    fig, axes = new_figure(ncols=3, nrows=len(rows), width=4.2, height=3.9)
    caption = []
    for r, (init, data) in enumerate(rows.items()):
        color = COLORS.get(init, COLORS["glorot"])
        radii = np.asarray(data["radii"], dtype=float)
        radius_density_panel(
            axes[r, 0],
            radii,
            title=f"{init}: spectral radius, n = {n}",
            color=color,
            curves=gaussian_law_curves(n, float(data["gain"]), radii, field=field),
        )
        flagged = {}
        if init != "glorot":
            count = min(radii.size, np.atleast_2d(data["hidden"][1]).shape[0])
            above = [int(i) for i in np.flatnonzero(radii[:count] > 1.0)]
            flagged = {i: rf"W{i}: $\rho$ = {radii[i]:.4f} > 1" for i in above}
            if above:
                caption.append(
                    f"{init}: {len(above)} of {count} matrices have rho > 1 (orange): "
                    + ", ".join(f"W{i} (rho = {radii[i]:.4f})" for i in above[:6])
                    + (" ..." if len(above) > 6 else "")
                )
            else:
                caption.append(f"{init}: all {count} matrices have rho <= 1")
        steps, mean, sd = data["trajectory"]
        norm_curves_panel(
            axes[r, 1],
            steps,
            mean,
            sd,
            ylabel=r"$\|W^k x\|$",
            xlabel="power k",
            title=f"{init}: powers",
            color=color,
            inputs=inputs,
            flagged=flagged,
        )
        steps, mean, sd = data["hidden"]
        norm_curves_panel(
            axes[r, 2],
            steps,
            mean,
            sd,
            ylabel=r"$\|h_t\|$",
            xlabel="time step t",
            title=f"{init}: hidden state",
            color=color,
            inputs=inputs,
            flagged=flagged,
        )
    fig.suptitle(f"{field} Glorot vs rescaled, n = {n}")
    if caption:
        fig.supxlabel("; ".join(caption), fontsize=8)
    return fig


def figure_real_vs_complex_radii(radii_real, radii_complex, *, n: int, gain: float = 1.0) -> Figure:
    """Figure 3: histograms of the largest eigenvalue modulus, real vs complex Glorot, with the
    finite-n real law (table) and Kostlan's exact complex law, and the line rho = 1 in view."""
    fig, axes = new_figure(width=5.0, height=4.2)
    ax = axes[0, 0]
    radii_real, radii_complex = np.asarray(radii_real, dtype=float), np.asarray(radii_complex, dtype=float)
    both = np.concatenate([radii_real, radii_complex])
    x = _x_range(both)
    bins = np.linspace(both.min(), both.max(), max(12, min(60, int(2 * math.sqrt(both.size / 2)))))
    ax.hist(
        radii_real,
        bins=bins,
        density=True,
        alpha=0.45,
        color=COLORS["real"],
        label=f"real ({radii_real.size} matrices)",
    )
    ax.hist(
        radii_complex,
        bins=bins,
        density=True,
        alpha=0.45,
        color=COLORS["complex"],
        label=f"complex ({radii_complex.size} matrices)",
    )
    for cx, cy, name, style in gaussian_law_curves(n, gain, both):
        ax.plot(cx, cy, label=name, **CURVE_STYLES[style])
    _rho_one(ax)
    ax.set_xlim(x[0], x[-1])
    ax.set_xlabel(r"largest eigenvalue modulus $\rho(W)$")
    ax.set_ylabel("density")
    ax.set_title(f"Glorot, n = {n}: real vs complex")
    _legend_below(ax)
    return fig


def figure_hidden_real_vs_complex(curves: dict, *, n: int, matrices: int, inputs: int) -> Figure:
    """Figure 4: the hidden-state norm over matrices, real vs complex Glorot, on a log time axis
    with the onset scale t = sqrt(n) marked.

    For each field, the median over W (solid) with the band of the 10%-90% quantiles over W, and
    the arithmetic mean over W (thin dashed): from t ~ 500 the mean is set by the one or two
    matrices with the largest radius, so the median says what a typical matrix does and the mean
    what the ensemble average (the paper's curve) does; the legend says which is which.

    curves[field] = {"steps", "mean", "median", "lo", "hi"}: log10 of the norm (each matrix's mean
    over its inputs), over matrices (:func:`specdiag._reproduce.spread_over_matrices`).
    """
    fig, axes = new_figure(width=5.4, height=4.6)
    ax = axes[0, 0]
    top = max(float(np.max([np.max(c["mean"]), np.max(c["hi"])])) for c in curves.values())
    true_log = top < LOG_AXIS_LIMIT
    scale = (lambda v: 10.0 ** np.asarray(v)) if true_log else np.asarray  # noqa: E731
    for field, c in curves.items():
        color = COLORS[field]
        ax.fill_between(
            c["steps"], scale(c["lo"]), scale(c["hi"]), color=color, alpha=0.18, lw=0, label=f"{field}: 10-90% of W"
        )
        ax.plot(c["steps"], scale(c["median"]), color=color, lw=1.8, ls="-", label=f"{field}: median over W")
        ax.plot(c["steps"], scale(c["mean"]), color=color, lw=1.0, ls="--", label=f"{field}: mean over W")
    if true_log:
        ax.set_yscale("log")
    ax.set_xscale("log")
    onset = math.sqrt(n)
    ax.axvline(onset, color="black", lw=0.9, ls=(0, (1, 1)), alpha=0.7, label=rf"$t = \sqrt{{n}}$ = {onset:.0f}")
    ax.set_xlabel("time step t (log scale)")
    ax.set_ylabel(r"$\|h_t\|$ (mean over inputs)" if true_log else r"log10 $\|h_t\|$ (mean over inputs)")
    ax.set_title(f"hidden state, n = {n}: median and mean over W")
    last = max(int(np.max(c["steps"])) for c in curves.values())
    _counts(ax, f"{matrices} matrices x {inputs} sequences x {last} steps per field")
    _legend_below(ax, ncol=2)
    fig.supxlabel(
        "the mean over W is dominated by the few W with the largest radius; the median is a typical W", fontsize=7
    )
    return fig


def figure_eigenvalues(spectra: dict, *, n: int) -> Figure:
    """Eigenvalues in the complex plane with the unit circle, one panel per (init, field), each with
    an inset zoomed on the edge around the largest eigenvalue."""
    count = len(spectra)
    ncols = min(4, count)
    nrows = math.ceil(count / ncols)
    fig, axes = new_figure(ncols=ncols, nrows=nrows, width=3.2, height=4.0)
    for ax, (label, eigs) in zip(axes.flat, spectra.items()):
        eigenvalue_panel(ax, eigs, title=label, color=COLORS["complex"] if "complex" in label else COLORS["real"])
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    fig.suptitle(f"eigenvalues (one matrix each), n = {n}" if count > 1 else f"eigenvalues, n = {n}")
    return fig


def figure_modulus_density(moduli: dict, *, n: int, matrices: int) -> Figure:
    """Pooled eigenvalue moduli |lambda| of several matrices against the circular law (density 2r on
    [0, 1]); an inset zooms on the edge, where the excess over the unit circle is (the paper's
    rebuttal reads Figure 1's left panel this way).

    moduli[label] = 1-D array of |lambda| pooled over ``matrices`` matrices.
    """
    fig, axes = new_figure(width=5.4, height=4.4)
    ax = axes[0, 0]
    inset = ax.inset_axes([0.08, 0.5, 0.42, 0.45])
    r = np.linspace(0, 1, 200)
    for i, (label, values) in enumerate(moduli.items()):
        values = np.asarray(values, dtype=float)
        color = COLORS["complex"] if "complex" in label else COLORS["real"]
        above = float(np.mean(values > 1.0))
        bins = np.linspace(0, max(1.1, float(values.max()) * 1.01), 80)
        ax.hist(
            values,
            bins=bins,
            density=True,
            histtype="step",
            lw=1.3,
            color=color,
            ls="-" if i == 0 else "--",
            label=f"{label}: {values.size} moduli, {100 * above:.2f}% above 1",
        )
        edge = np.linspace(0.9, max(1.12, float(values.max()) * 1.01), 45)
        inset.hist(values, bins=edge, density=True, histtype="step", lw=1.1, color=color, ls="-" if i == 0 else "--")
    for target in (ax, inset):
        target.plot(
            r, 2 * r, label="circular law: density 2r on [0, 1]" if target is ax else None, **CURVE_STYLES["exact"]
        )
        target.plot([1, 1], [0, 2], **CURVE_STYLES["exact"])
        target.axvline(1.0, **CURVE_STYLES["rho1"])
    inset.set_yscale("log")
    inset.set_xlim(0.9, None)
    inset.set_title("edge (log density)", fontsize=7, pad=2)
    inset.tick_params(labelsize=6)
    ax.set_xlabel(r"eigenvalue modulus $|\lambda|$")
    ax.set_ylabel("density")
    ax.set_title(f"pooled eigenvalue moduli, n = {n}, {matrices} matrices each")
    _legend_below(ax, ncol=1)
    return fig


# ---------------------------------------------------------------------------------------------
# Sweep figures
# ---------------------------------------------------------------------------------------------

_SERIES_STYLE = {
    ("glorot", "real"): ("#1f77b4", "o"),
    ("glorot", "complex"): ("#d62728", "s"),
    ("rescaled", "real"): ("#2ca02c", "^"),
    ("rescaled", "complex"): ("#9467bd", "v"),
}


def _series(points: list[dict]) -> dict:
    groups: dict = {}
    for p in sorted((p for p in points if p.get("complete")), key=lambda p: p["n"]):
        groups.setdefault((p["init"], p["field"]), []).append(p)
    return groups


def _style(key, i):
    return _SERIES_STYLE.get(key, (f"C{i % 10}", "D"))


def figure_sweep_excess(points: list[dict]) -> Figure:
    """(a) |E rho - 1| vs n, log-log, per (init, field), with the Rider location and the exact
    complex mean. Rescaled radii sit below 1: their points are hollow."""
    from . import laws  # noqa: PLC0415

    fig, axes = new_figure(width=5.2, height=3.8)
    ax = axes[0, 0]
    ns_all = sorted({p["n"] for p in points if p.get("complete")})
    for i, (key, group) in enumerate(_series(points).items()):
        color, marker = _style(key, i)
        ns = np.array([p["n"] for p in group])
        excess = np.array([p["radius_mean"] - 1 for p in group])
        se = np.array([p["radius_mean_se"] for p in group])
        face = [color if e > 0 else "none" for e in excess]
        ax.errorbar(
            ns, np.abs(excess), yerr=2 * se, color=color, ls="-", lw=0.8, marker=None, label=f"{key[0]}, {key[1]}"
        )
        ax.scatter(ns, np.abs(excess), marker=marker, facecolors=face, edgecolors=color, zorder=3)
    if ns_all:
        grid_n = np.unique(np.round(np.geomspace(max(min(ns_all), 2), max(ns_all), 200)).astype(int))
        defined = grid_n[grid_n > theory.LAST_UNDEFINED_N]  # g_n <= 0 up to n = 163: no Rider line there
        if defined.size:
            ax.plot(
                defined,
                [theory.rider_location(int(n)) - 1 for n in defined],
                color="black",
                ls="--",
                lw=1,
                label=r"Rider: $\sqrt{g_n/4n}$",
            )
        exact_n = np.unique(np.round(np.geomspace(max(min(ns_all), 2), max(ns_all), 12)).astype(int))
        ax.plot(
            exact_n,
            [float(laws.kostlan(int(n)).mean()) - 1 for n in exact_n],
            color="black",
            ls=":",
            lw=1.2,
            label="exact complex mean (Kostlan)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width n")
    ax.set_ylabel(r"$|E\rho - 1|$ (hollow: below 1)")
    ax.set_title("spectral-radius excess vs width")
    ax.legend(fontsize=7)
    return fig


def figure_sweep_p_above(points: list[dict]) -> Figure:
    """(b) P(rho > 1) vs n with 95% Wilson bands, per (init, field)."""
    fig, axes = new_figure(width=5.2, height=3.8)
    ax = axes[0, 0]
    for i, (key, group) in enumerate(_series(points).items()):
        color, marker = _style(key, i)
        ns = [p["n"] for p in group]
        ax.plot(ns, [p["p_above_1"] for p in group], color=color, marker=marker, label=f"{key[0]}, {key[1]}")
        ax.fill_between(
            ns, [p["p_above_1_lo"] for p in group], [p["p_above_1_hi"] for p in group], color=color, alpha=0.15, lw=0
        )
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("width n")
    ax.set_ylabel(r"$P(\rho > 1)$")
    ax.set_title("probability the radius exceeds 1 (95% bands)")
    ax.legend(fontsize=7)
    return fig


def figure_sweep_collapse(points: list[dict]) -> Figure:
    """(c) Q = E||W^k||_F^2 / n vs c = k / sqrt(n) for every n (Glorot), with the double-scaling
    limit sinh(c^2/2) / (c^2/2)."""
    fig, axes = new_figure(width=5.2, height=3.8)
    ax = axes[0, 0]
    cs_all: list[float] = []
    for i, p in enumerate(
        sorted(
            (p for p in points if p.get("complete") and p.get("q_mean") and p["init"] == "glorot"),
            key=lambda p: (p["field"], p["n"]),
        )
    ):
        c = np.array(p["dynamics_k"]) / math.sqrt(p["n"])
        cs_all.extend(c)
        q = np.array([np.nan if v is None else v for v in p["q_mean"]])
        ax.plot(
            c,
            q,
            marker="o" if p["field"] == "real" else "s",
            ls="",
            color=f"C{i % 10}",
            label=f"n = {p['n']}, {p['field']}",
        )
    if cs_all:
        c = np.linspace(1e-3, max(cs_all) * 1.05, 200)
        half = c**2 / 2
        ax.plot(c, np.sinh(half) / half, color="black", lw=1.2, label=r"$\sinh(c^2/2)/(c^2/2)$")
    ax.set_yscale("log")
    ax.set_xlabel(r"$c = k / \sqrt{n}$")
    ax.set_ylabel(r"$Q = E\|W^k\|_F^2 / n$")
    ax.set_title("double-scaling collapse (Glorot)")
    ax.legend(fontsize=7)
    return fig
