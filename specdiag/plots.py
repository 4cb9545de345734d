"""Figures with matplotlib's object API (Figure + Agg canvas, no pyplot global state).

Panel functions draw onto a given Axes; figure functions build a Figure from arrays, so the same
arrays (saved in a run directory) always redraw the same figure. ``save_figure`` writes atomically.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from . import laws, theory
from .report import atomic_write_bytes

__all__ = ["STYLE", "COLORS", "LOG_AXIS_LIMIT", "VECTOR_FORMATS", "new_figure", "save_figure", "radius_density_panel", "norm_curves_panel", "eigenvalue_panel", "radius_figure", "norm_figure", "radius_theory_curves", "fit_figure", "figure_radius_dynamics", "figure_real_vs_complex_radii", "figure_hidden_real_vs_complex", "figure_eigenvalues", "figure_sweep_excess", "figure_sweep_p_above", "figure_sweep_collapse"]

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
COLORS = {"real": "#1f77b4", "complex": "#d62728", "glorot": "#1f77b4", "rescaled": "#2ca02c", "theory": "#222222"}
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
    metadata = {"Software": None} if fmt == "png" else ({"Creator": None, "Producer": None, "CreationDate": None} if fmt == "pdf" else {"Date": None})
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return atomic_write_bytes(path, buffer.getvalue())


def radius_density_panel(ax, radii, *, title: str = "", color: str = COLORS["real"], label: str = "sample", curves=()):
    """Histogram (density) of sampled radii, optional theoretical densities, and the line rho = 1.

    curves: iterable of (x, density, label) drawn as lines.
    """
    radii = np.asarray(radii, dtype=float)
    bins = max(10, min(60, int(2 * math.sqrt(radii.size))))
    ax.hist(radii, bins=bins, density=True, alpha=0.45, color=color, label=f"{label} ({radii.size})")
    styles = ["-", "--", ":"]
    for i, (x, y, name) in enumerate(curves):
        ax.plot(x, y, styles[i % 3], color=COLORS["theory"], lw=1.3, label=name)
    ax.axvline(1.0, color="black", lw=1, ls="--", label=r"$\rho = 1$")
    ax.set_xlabel(r"spectral radius $\rho(W)$")
    ax.set_ylabel("density")
    if title:
        ax.set_title(title)
    ax.legend(loc="best", framealpha=0.7)
    return ax


def norm_curves_panel(ax, steps, log10_mean, log10_std=None, *, ylabel: str, xlabel: str, title: str = "", color=None, exact=None, max_lines: int = 100):
    """One line per matrix (log10 of the mean norm over inputs) with a +-1 sd band, log y.

    Values beyond float64 are shown as log10 on a linear axis, labelled so.
    """
    steps = np.asarray(steps)
    curves = np.atleast_2d(np.asarray(log10_mean, dtype=float))
    bands = None if log10_std is None else np.atleast_2d(np.asarray(log10_std, dtype=float))
    top = max(float(np.nanmax(curves)), float(np.nanmax(exact)) if exact is not None else -np.inf)
    true_log = top < LOG_AXIS_LIMIT
    transform = (lambda v: 10.0**v) if true_log else (lambda v: v)  # noqa: E731
    color = color or COLORS["glorot"]
    for i in range(min(curves.shape[0], max_lines)):
        ax.plot(steps, transform(curves[i]), color=color, lw=0.6, alpha=0.5)
        if bands is not None:
            ax.fill_between(steps, transform(curves[i] - bands[i]), transform(curves[i] + bands[i]), color=color, alpha=0.05, lw=0)
    if exact is not None:
        ax.plot(steps, transform(np.asarray(exact)), color=COLORS["theory"], lw=1.5, ls="--", label="exact RMS expectation")
        ax.legend(loc="upper left")
    if true_log:
        ax.set_yscale("log")
        ax.set_ylabel(ylabel)
    else:
        ax.set_ylabel(f"log10 {ylabel}")
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    return ax


def eigenvalue_panel(ax, eigenvalues, *, title: str = "", color: str = COLORS["real"]):
    """Eigenvalues in the complex plane with the unit circle; the largest modulus is marked."""
    w = np.asarray(eigenvalues)
    theta = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="black", lw=1, ls="--", label="unit circle")
    ax.scatter(w.real, w.imag, s=3, color=color, alpha=0.6, lw=0)
    top = int(np.argmax(np.abs(w)))
    ax.scatter([w[top].real], [w[top].imag], s=30, facecolors="none", edgecolors="black", label=rf"$\rho$ = {abs(w[top]):.4f}")
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right")
    return ax


def radius_figure(radii, *, n: int, field: str, init: str, curves=()) -> Figure:
    """A single radius-density panel (``radius --plot``, ``fit-gumbel --plot``)."""
    fig, axes = new_figure()
    radius_density_panel(axes[0, 0], radii, title=f"{init}, {field}, n = {n}", color=COLORS[field], curves=curves)
    return fig


def norm_figure(steps, log10_mean, log10_std, *, ylabel: str, xlabel: str, title: str, exact=None) -> Figure:
    """A single norm-vs-step panel (``trajectory --plot``, ``hidden --plot``)."""
    fig, axes = new_figure(width=5.0)
    norm_curves_panel(axes[0, 0], steps, log10_mean, log10_std, ylabel=ylabel, xlabel=xlabel, title=title, exact=exact)
    return fig


# ---------------------------------------------------------------------------------------------
# The paper's figures (SPEC section 5)
# ---------------------------------------------------------------------------------------------


def _x_range(radii, points: int = 300) -> np.ndarray:
    radii = np.asarray(radii)
    lo, hi = float(radii.min()), float(radii.max())
    pad = 0.3 * (hi - lo) + 1e-3
    return np.linspace(max(lo - pad, 1e-6), hi + pad, points)


def radius_theory_curves(ensemble, radii) -> list:
    """Densities over the range of ``radii`` of the ensemble's radius law (exact, or the finite-n
    table for real Gaussian inits) and, for Gaussian inits at n >= 164, its asymptotic limit."""
    x = _x_range(radii)
    curves = []
    law, source = ensemble.spec.law(ensemble)
    if law is not None:
        curves.append((x, law.pdf(x), source))
    if ensemble.kind == "gaussian" and ensemble.n > theory.LAST_UNDEFINED_N:
        limit = laws.rider(ensemble.n) if ensemble.field == "complex" else laws.rider_sinclair(ensemble.n)
        name = "Rider" if ensemble.field == "complex" else "Rider-Sinclair"
        gain = ensemble.gain
        curves.append((x, limit.pdf(x / gain) / gain, f"asymptotic ({name})"))
    return curves


def fit_figure(radii, comparison: dict, *, n: int, field: str, init: str) -> Figure:
    """``fit-gumbel --plot``: the radii's density with the fitted, asymptotic and exact laws."""
    from scipy import stats  # noqa: PLC0415

    x = _x_range(radii)
    fit = comparison["fit"]
    curves = [(x, stats.gumbel_r.pdf(x, fit["loc"], fit["scale"]), "fitted Gumbel")]
    if comparison.get("asymptotic"):
        asym = comparison["asymptotic"]
        curves.append((x, stats.gumbel_r.pdf(x, asym["loc"], asym["scale"]), "asymptotic (Rider)"))
    if comparison.get("exact"):
        curves.append((x, laws.kostlan(n).pdf(x), "exact (Kostlan)"))
    return radius_figure(radii, n=n, field=field, init=init, curves=curves)


def figure_radius_dynamics(rows: dict, *, n: int, field: str) -> Figure:
    """Figures 1 (real) and 2 (complex): one row per init (glorot, rescaled); columns: radius
    density, ||W^k x|| per matrix, ||h_t|| per matrix.

    rows[init] = {"radii", "gain", "trajectory": (steps, log10_mean, log10_sd), "hidden": (...)}.
    """
    fig, axes = new_figure(ncols=3, nrows=len(rows), width=4.2, height=3.2)
    for r, (init, data) in enumerate(rows.items()):
        color = COLORS.get(init, COLORS["glorot"])
        radius_density_panel(
            axes[r, 0], data["radii"], title=f"{init}: spectral radius, n = {n}", color=color,
            curves=radius_theory_curves(n, field, data["gain"], data["radii"]),
        )
        steps, mean, sd = data["trajectory"]
        norm_curves_panel(axes[r, 1], steps, mean, sd, ylabel=r"$\|W^k x\|$", xlabel="power k", title=f"{init}: powers (mean over inputs)", color=color)
        steps, mean, sd = data["hidden"]
        norm_curves_panel(axes[r, 2], steps, mean, sd, ylabel=r"$\|h_t\|$", xlabel="time step t", title=f"{init}: hidden state", color=color)
    fig.suptitle(f"{field} Glorot vs rescaled, n = {n}")
    return fig


def figure_real_vs_complex_radii(radii_real, radii_complex, *, n: int) -> Figure:
    """Figure 3: histograms of the largest eigenvalue modulus, real vs complex Glorot."""
    fig, axes = new_figure(width=5.0, height=3.6)
    ax = axes[0, 0]
    both = np.concatenate([radii_real, radii_complex])
    bins = np.linspace(both.min(), both.max(), max(12, min(60, int(2 * math.sqrt(both.size / 2)))))
    ax.hist(radii_real, bins=bins, density=True, alpha=0.5, color=COLORS["real"], label=f"real ({len(radii_real)})")
    ax.hist(radii_complex, bins=bins, density=True, alpha=0.5, color=COLORS["complex"], label=f"complex ({len(radii_complex)})")
    ax.axvline(1.0, color="black", lw=1, ls="--", label=r"$\rho = 1$")
    ax.set_xlabel(r"largest eigenvalue modulus $\rho(W)$")
    ax.set_ylabel("density")
    ax.set_title(f"Glorot, n = {n}: real vs complex")
    ax.legend()
    return fig


def figure_hidden_real_vs_complex(curves: dict, *, n: int, matrices: int, inputs: int) -> Figure:
    """Figure 4: mean hidden-state norm (over matrices x input sequences), real vs complex Glorot.

    curves[field] = (steps, log10 mean norm).
    """
    fig, axes = new_figure(width=5.0, height=3.6)
    ax = axes[0, 0]
    top = max(float(np.max(v[1])) for v in curves.values())
    true_log = top < LOG_AXIS_LIMIT
    for field, (steps, log10_mean) in curves.items():
        values = 10.0 ** np.asarray(log10_mean) if true_log else np.asarray(log10_mean)
        ax.plot(steps, values, color=COLORS[field], lw=1.5, label=f"{field} Glorot")
    if true_log:
        ax.set_yscale("log")
    ax.set_xlabel("time step t")
    ax.set_ylabel(r"mean $\|h_t\|$" if true_log else r"log10 mean $\|h_t\|$")
    ax.set_title(f"hidden state, n = {n}: {matrices} matrices x {inputs} sequences")
    ax.legend()
    return fig


def figure_eigenvalues(spectra: dict, *, n: int) -> Figure:
    """Eigenvalues in the complex plane with the unit circle, one panel per (init, field)."""
    count = len(spectra)
    ncols = min(3, count)
    nrows = math.ceil(count / ncols)
    fig, axes = new_figure(ncols=ncols, nrows=nrows, width=3.4, height=3.4)
    for ax, (label, eigs) in zip(axes.flat, spectra.items()):
        eigenvalue_panel(ax, eigs, title=label, color=COLORS["complex"] if "complex" in label else COLORS["real"])
    for ax in list(axes.flat)[count:]:
        ax.set_visible(False)
    fig.suptitle(f"eigenvalues, n = {n}")
    return fig


# ---------------------------------------------------------------------------------------------
# Sweep figures
# ---------------------------------------------------------------------------------------------

_SERIES_STYLE = {("glorot", "real"): ("#1f77b4", "o"), ("glorot", "complex"): ("#d62728", "s"), ("rescaled", "real"): ("#2ca02c", "^"), ("rescaled", "complex"): ("#9467bd", "v")}


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
    fig, axes = new_figure(width=5.2, height=3.8)
    ax = axes[0, 0]
    ns_all = sorted({p["n"] for p in points if p.get("complete")})
    for i, (key, group) in enumerate(_series(points).items()):
        color, marker = _style(key, i)
        ns = np.array([p["n"] for p in group])
        excess = np.array([p["radius_mean"] - 1 for p in group])
        se = np.array([p["radius_mean_se"] for p in group])
        face = [color if e > 0 else "none" for e in excess]
        ax.errorbar(ns, np.abs(excess), yerr=2 * se, color=color, ls="-", lw=0.8, marker=None, label=f"{key[0]}, {key[1]}")
        ax.scatter(ns, np.abs(excess), marker=marker, facecolors=face, edgecolors=color, zorder=3)
    if ns_all:
        grid_n = np.geomspace(max(min(ns_all), 2), max(ns_all), 60)
        defined = grid_n[grid_n >= theory.LAST_UNDEFINED_N + 1]
        if defined.size:
            ax.plot(defined, [theory.rider_location(int(n)) - 1 for n in defined], color="black", ls="--", lw=1, label=r"Rider: $\sqrt{g_n/4n}$")
        exact_n = np.unique(np.round(np.geomspace(max(min(ns_all), 2), max(ns_all), 12)).astype(int))
        ax.plot(exact_n, [float(laws.kostlan(int(n)).mean()) - 1 for n in exact_n], color="black", ls=":", lw=1.2, label="exact complex mean (Kostlan)")
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
        ax.fill_between(ns, [p["p_above_1_lo"] for p in group], [p["p_above_1_hi"] for p in group], color=color, alpha=0.15, lw=0)
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
    cs_all = []
    for i, p in enumerate(sorted((p for p in points if p.get("complete") and p.get("q_mean") and p["init"] == "glorot"), key=lambda p: (p["field"], p["n"]))):
        c = np.array(p["dynamics_k"]) / math.sqrt(p["n"])
        cs_all.extend(c)
        q = np.array([np.nan if v is None else v for v in p["q_mean"]])
        ax.plot(c, q, marker="o" if p["field"] == "real" else "s", ls="", color=f"C{i % 10}", label=f"n = {p['n']}, {p['field']}")
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
