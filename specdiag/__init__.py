"""specdiag: spectral diagnostics for recurrent weight matrices.

At finite width n the spectral radius of a Glorot matrix sits just above 1 (a Gumbel law at the
edge of the circular law), so linear recurrences explode over sequences of length about sqrt(n).
This package samples, predicts and checks all of it; the ``specdiag`` CLI is a thin layer over it:
each command is one call here (``radius_report``, ``inits_report``, ``theory_report``, ``fit_report``,
``trajectory_report``, ``hidden_report``, ``check_file``, ``sweep``, ``reproduce``) whose result's
``to_dict()`` is the command's ``--format json`` document.

Every other module of the package is private (``specdiag._name``); the public namespaces are this
one (its ``__all__``) and ``specdiag.laws``.

>>> import specdiag as sd
>>> r = sd.spectral_radii(64, samples=10, field="complex", seed=1, device="cpu", workers=1)
>>> law = sd.radius_law(64, init="glorot", field="complex")
>>> bool(abs(r.mean() - law.mean()) < 0.1)
True
"""

__version__ = "0.2.0"

# PEP 562: names load on first use, so ``import specdiag`` (and the CLI's start-up) stays light:
# scipy, matplotlib and the process pool are imported only by the functions that need them.
_EXPORTS = {
    "InputError": "_errors",
    "spectral_radii": "_api",
    "radius_law": "_api",
    "trajectory": "_api",
    "hidden_states": "_api",
    "init_options": "_api",
    "inits_report": "_api",
    "InitsReport": "_api",
    "RadiusReport": "_radius_report",
    "radius_report": "_radius_report",
    "DynamicsReport": "_dynamics_report",
    "trajectory_report": "_dynamics_report",
    "hidden_report": "_dynamics_report",
    "TheorySummary": "_theory_report",
    "TheoryReport": "_theory_report",
    "theory_summary": "_theory_report",
    "theory_report": "_theory_report",
    "CheckReport": "_check",
    "Thresholds": "_check",
    "check_file": "_check",
    "check_matrix": "_check",
    "check_tensors": "_check",
    "check_state_dict": "_check",
    "check_module": "_check",
    "list_file": "_check",
    "check_paths": "_check_paths",
    "MultiCheckReport": "_check_paths",
    "FixResult": "_fix",
    "fix_file": "_fix",
    "NormCurves": "_dynamics",
    "simulate": "_dynamics",
    "GumbelFit": "_fit",
    "LawComparison": "_fit",
    "FitReport": "_fit",
    "compare_laws": "_fit",
    "fit_gumbel": "_fit",
    "fit_report": "_fit",
    "INITS": "_inits",
    "Ensemble": "_inits",
    "InitOptions": "_inits",
    "LawSummary": "_inits",
    "make_ensemble": "_inits",
    "reproduce": "_reproduce",
    "ReproduceResult": "_reproduce",
    "RadiusStats": "_spectra",
    "radius_stats": "_spectra",
    "sample_radii": "_spectra",
    "sweep": "_sweep",
    "SweepResult": "_sweep",
}
_SUBMODULES = ("laws", "torch", "keras", "jax")


def __getattr__(name: str):
    import importlib  # noqa: PLC0415

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'specdiag' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "__version__",
    "InputError",
    # sampling and statistics
    "spectral_radii",
    "radius_stats",
    "RadiusStats",
    "radius_report",
    "RadiusReport",
    "sample_radii",
    # initializations and laws
    "INITS",
    "InitOptions",
    "init_options",
    "inits_report",
    "InitsReport",
    "Ensemble",
    "make_ensemble",
    "radius_law",
    "LawSummary",
    "laws",
    "theory_summary",
    "theory_report",
    "TheorySummary",
    "TheoryReport",
    # fits
    "fit_gumbel",
    "compare_laws",
    "fit_report",
    "GumbelFit",
    "LawComparison",
    "FitReport",
    # dynamics
    "trajectory",
    "hidden_states",
    "trajectory_report",
    "hidden_report",
    "DynamicsReport",
    "simulate",
    "NormCurves",
    # checking user weights
    "check_file",
    "check_paths",
    "check_tensors",
    "check_state_dict",
    "check_module",
    "list_file",
    "check_matrix",
    "CheckReport",
    "MultiCheckReport",
    "Thresholds",
    "fix_file",
    "FixResult",
    # long runs
    "sweep",
    "SweepResult",
    "reproduce",
    "ReproduceResult",
]
