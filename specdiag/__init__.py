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

from . import laws
from .api import hidden_states, init_options, spectral_radii, theory_summary, trajectory
from .check import CheckReport, Thresholds, check_file, check_matrix, check_tensors
from .dynamics import NormCurves, simulate
from .errors import InputError
from .fit import GumbelFit, compare_laws, fit_gumbel
from .inits import INITS, Ensemble, InitOptions, LawSummary, make_ensemble, radius_law
from .reproduce import reproduce
from .spectra import RadiusStats, radius_stats, sample_radii
from .sweep import sweep

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
    "check_matrix",
    "CheckReport",
    "Thresholds",
    # long runs
    "sweep",
    "reproduce",
]
