"""specdiag: spectral diagnostics for recurrent weight matrices.

At finite width n the spectral radius of a Glorot matrix sits just above 1 (a Gumbel law at the
edge of the circular law), so linear recurrences explode over sequences of length about sqrt(n).
This package samples, predicts and checks all of it; the ``specdiag`` CLI is a thin layer over it.

>>> import specdiag as sd
>>> r = sd.spectral_radii(n=64, samples=10, field="complex", seed=1, device="cpu", workers=1)
>>> law = sd.radius_law("glorot", n=64, field="complex")
>>> bool(abs(r.mean() - law.mean()) < 0.1)
True
"""

__version__ = "0.2.0"

# PEP 562: names load on first use, so ``import specdiag`` (and the CLI's start-up) stays light:
# scipy, matplotlib and the process pool are imported only by the functions that need them.
_EXPORTS = {
    "InputError": "errors",
    "spectral_radii": "api",
    "trajectory": "api",
    "hidden_states": "api",
    "theory_summary": "api",
    "init_options": "api",
    "CheckReport": "check",
    "Thresholds": "check",
    "check_file": "check",
    "check_matrix": "check",
    "check_tensors": "check",
    "check_state_dict": "check",
    "check_module": "check",
    "list_file": "check",
    "NormCurves": "dynamics",
    "simulate": "dynamics",
    "GumbelFit": "fit",
    "compare_laws": "fit",
    "fit_gumbel": "fit",
    "INITS": "inits",
    "Ensemble": "inits",
    "InitOptions": "inits",
    "LawSummary": "inits",
    "make_ensemble": "inits",
    "radius_law": "inits",
    "reproduce": "reproduce",
    "RadiusStats": "spectra",
    "radius_stats": "spectra",
    "sample_radii": "spectra",
    "sweep": "sweep",
}
_SUBMODULES = ("laws",)


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


def _keep_exported_functions() -> None:
    """``specdiag.reproduce`` and ``specdiag.sweep`` are functions, as they always were, although
    submodules of the same names exist: when the import system binds such a submodule on the
    package, the binding is skipped (the module stays in ``sys.modules``), whatever loads first."""
    import sys  # noqa: PLC0415
    import types  # noqa: PLC0415

    class _Package(types.ModuleType):
        def __setattr__(self, name, value):
            if isinstance(value, types.ModuleType) and _EXPORTS.get(name) == name:
                return
            super().__setattr__(name, value)

    sys.modules[__name__].__class__ = _Package


_keep_exported_functions()


__all__ = [
    "__version__",
    "InputError",
    # sampling and statistics
    "spectral_radii",
    "radius_stats",
    "RadiusStats",
    "sample_radii",
    # initializations and laws
    "INITS",
    "InitOptions",
    "init_options",
    "Ensemble",
    "make_ensemble",
    "radius_law",
    "LawSummary",
    "laws",
    "theory_summary",
    # fits
    "fit_gumbel",
    "compare_laws",
    "GumbelFit",
    # dynamics
    "trajectory",
    "hidden_states",
    "simulate",
    "NormCurves",
    # checking user weights
    "check_file",
    "check_tensors",
    "check_state_dict",
    "check_module",
    "list_file",
    "check_matrix",
    "CheckReport",
    "Thresholds",
    # long runs
    "sweep",
    "reproduce",
]
