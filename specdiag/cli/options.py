"""Options shared by several commands, with Enums for every choice so ``--help`` lists exactly what
a command accepts. Typer has no option groups, so shared options are ``Annotated`` aliases, and a run
of options several commands declare alike is an :class:`OptionGroup` (:func:`grouped_options`)."""

from __future__ import annotations

import functools
import inspect
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from .._backend import DEVICES, PRECISIONS
from .._errors import InputError
from .._inits import FIELDS, INITS, RESCALE_METHODS
from .._spectra import METHODS, SAMPLERS

__all__ = [
    "Field",
    "InitName",
    "Device",
    "Precision",
    "RescaleMethod",
    "Method",
    "value",
    "N",
    "Init",
    "FieldOpt",
    "Seed",
    "DeviceOpt",
    "Workers",
    "ChunkSize",
    "MethodOpt",
    "SamplerOpt",
    "SamplePrecision",
    "Rmin",
    "Rmax",
    "MaxPhase",
    "Rescale",
    "Coverage",
    "InitRescale",
    "InitCoverage",
    "CalibrationSamples",
    "Out",
    "Plot",
    "Force",
    "init_keywords",
    "OptionGroup",
    "grouped_options",
    "sampling_options",
    "Sampling",
    "InitKeywords",
    "parse_int_list",
    "parse_name_list",
    "describe_rescaling",
]

Field = Enum("Field", {f: f for f in FIELDS}, type=str)  # type: ignore[misc]  # members come from the registry
InitName = Enum("InitName", {name: name for name in INITS}, type=str)  # type: ignore[misc]  # members come from the registry
Device = Enum("Device", {d: d for d in DEVICES}, type=str)  # type: ignore[misc]  # members come from the registry
Precision = Enum("Precision", {p: p for p in PRECISIONS}, type=str)  # type: ignore[misc]  # members come from the registry
RescaleMethod = Enum("RescaleMethod", {m: m for m in RESCALE_METHODS}, type=str)  # type: ignore[misc]  # members come from the registry


def value(choice):
    """The plain string of an Enum choice (or the value itself)."""
    return getattr(choice, "value", choice)


N = Annotated[int, typer.Option("--n", help="Width n of the n x n recurrent matrix.")]
Init = Annotated[InitName, typer.Option("--init", help="Initialization (see `specdiag inits`).")]
FieldOpt = Annotated[
    Field, typer.Option("--field", help="Real or complex entries (diagonal inits are always complex).")
]
Seed = Annotated[int, typer.Option("--seed", help="Seed; matrix i uses the stream (seed, i), whatever the batching.")]
DeviceOpt = Annotated[
    Device,
    typer.Option("--device", help="cpu, gpu (CuPy) or auto (the GPU when usable; SPECDIAG_DISABLE_GPU=1 forbids it)."),
]
Workers = Annotated[
    Optional[int],
    typer.Option(
        "--workers", help="CPU worker processes (default: every core; capped at the cores), one BLAS thread each."
    ),
]
ChunkSize = Annotated[
    Optional[int], typer.Option("--chunk-size", help="Matrices per task (bounds memory; never changes results).")
]
Rmin = Annotated[
    Optional[float],
    typer.Option("--rmin", help="lru only: smallest eigenvalue modulus (default 0.4).", show_default=False),
]
Rmax = Annotated[
    Optional[float],
    typer.Option("--rmax", help="lru only: largest eigenvalue modulus (default 0.9).", show_default=False),
]
MaxPhase = Annotated[
    Optional[float],
    typer.Option(
        "--max-phase",
        help="lru only: largest eigenvalue phase (radians, at most 2 pi; default pi).",
        show_default=False,
    ),
]
Rescale = Annotated[
    RescaleMethod,
    typer.Option("--rescale", help="rescaled: paper (s_n, n >= 164) or calibrated (finite-n quantile, any n)."),
]
Coverage = Annotated[float, typer.Option("--coverage", help="rescaled, calibrated: target P(rho <= 1).")]
InitRescale = Annotated[
    Optional[RescaleMethod],
    typer.Option(
        "--rescale",
        help="rescaled only: paper (s_n, n >= 164; the default) or calibrated (finite-n quantile, any n).",
        show_default=False,
    ),
]
InitCoverage = Annotated[
    Optional[float],
    typer.Option("--coverage", help="rescaled, calibrated only: target P(rho <= 1) (default 0.9).", show_default=False),
]
CalibrationSamples = Annotated[
    Optional[int],
    typer.Option(
        "--calibration-samples",
        help="rescaled, calibrated, real only: Monte Carlo radii for the quantile (cached); default: the shipped "
        "table's quantile for n <= 2048, 1000 radii above.",
        show_default=False,
    ),
]
Out = Annotated[
    Optional[Path], typer.Option("--out", help="Directory to write results and run.json into (created if needed).")
]
Plot = Annotated[Optional[Path], typer.Option("--plot", help="Also draw a figure to this file (.png, .pdf or .svg).")]
Force = Annotated[
    bool,
    typer.Option(
        "--force", help="Write into --out even if it holds other files or another run (that run's files are replaced)."
    ),
]
Method = Enum("Method", {m: m for m in METHODS}, type=str)  # type: ignore[misc]  # members come from the registry
MethodOpt = Annotated[
    Method,
    typer.Option(
        "--method",
        help="matrices: eigenvalues of sampled matrices. law: exact draws from the radius law, no matrices "
        "(complex glorot/half/rescaled: Kostlan; uniform-diag, uniform-disk, lru: closed forms); refused for real "
        "Gaussian inits.",
    ),
]
Sampler = Enum("Sampler", {m: m for m in SAMPLERS}, type=str)  # type: ignore[misc]  # members come from the registry
SamplerOpt = Annotated[
    Sampler,
    typer.Option(
        "--sampler",
        help="Gaussian inits on the CPU: hessenberg (the Hessenberg form, exact in law, faster) or dense (W itself: "
        "the radii of 0.2.0).",
    ),
]
SamplePrecision = Annotated[
    Precision, typer.Option("--precision", help="Eigenvalue precision: single (float32, ample for radii) or double.")
]


def init_keywords(rmin=None, rmax=None, max_phase=None, rescale=None, coverage=None, calibration_samples=None) -> dict:
    """The init options given on the command line (unset ones are None: the library then uses its
    defaults, and refuses an option the init does not use only when it was given)."""
    return {
        "rmin": rmin,
        "rmax": rmax,
        "max_phase": max_phase,
        "rescale": value(rescale),
        "coverage": coverage,
        "calibration_samples": calibration_samples,
    }


@dataclass(frozen=True)
class OptionGroup:
    """A run of options several commands declare alike (Typer has no option groups).

    A command parameter annotated ``Annotated[Any, group]`` stands for the group: :func:`grouped_options`
    puts the group's options in its place in the signature Typer reads (so ``--help`` lists them there)
    and calls the command with that parameter set to ``collect(**their values)``: the library keywords.
    """

    options: tuple[tuple[str, Any, Any], ...]  # (Python name, Annotated option type, default)
    collect: Callable[..., dict[str, Any]]

    def parameters(self) -> list[inspect.Parameter]:
        """The options as the parameters Typer turns into flags."""
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        return [inspect.Parameter(name, kind, default=default, annotation=ann) for name, ann, default in self.options]


def grouped_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` with each parameter that stands for an :class:`OptionGroup` replaced, in place, by the
    group's options; called (by Typer, with keywords) it passes ``func`` each group's collected keywords."""
    hints = typing.get_type_hints(func, include_extras=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, OptionGroup] = {}
    for param in inspect.signature(func).parameters.values():
        annotation = hints.get(param.name, param.annotation)
        group = next((m for m in getattr(annotation, "__metadata__", ()) if isinstance(m, OptionGroup)), None)
        if group is None:
            params.append(param.replace(annotation=annotation))
        else:
            groups[param.name] = group
            params.extend(group.parameters())

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        for name, group in groups.items():
            kwargs[name] = group.collect(**{option: kwargs.pop(option) for option, _, _ in group.options})
        return func(**kwargs)

    wrapper.__signature__ = inspect.signature(func).replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def _choice_values(**options: Any) -> dict[str, Any]:
    """Library keywords from option values: Enum choices as their plain strings."""
    return {name: value(v) for name, v in options.items()}


def sampling_options(precision: Any, *, sampler: bool) -> OptionGroup:
    """--seed, --device, ``precision`` (the command's --precision option), --workers, --chunk-size
    and, with ``sampler``, --sampler: how a command draws and computes its matrices."""
    options: list[tuple[str, Any, Any]] = [
        ("seed", Seed, 0),
        ("device", DeviceOpt, Device("auto")),
        ("precision", precision, Precision("single")),
        ("workers", Workers, None),
        ("chunk_size", ChunkSize, None),
    ]
    if sampler:
        options.append(("sampler", SamplerOpt, Sampler("hessenberg")))
    return OptionGroup(tuple(options), _choice_values)


#: --seed ... --sampler of the commands that sample radii (radius, fit-gumbel).
Sampling = Annotated[Any, sampling_options(SamplePrecision, sampler=True)]
#: --rmin, --rmax, --max-phase, --rescale, --coverage, --calibration-samples: :func:`init_keywords`.
InitKeywords = Annotated[
    Any,
    OptionGroup(
        (
            ("rmin", Rmin, None),
            ("rmax", Rmax, None),
            ("max_phase", MaxPhase, None),
            ("rescale", InitRescale, None),
            ("coverage", InitCoverage, None),
            ("calibration_samples", CalibrationSamples, None),
        ),
        init_keywords,
    ),
]


def parse_int_list(text: str, flag: str) -> list[int]:
    """``"128, 256,512"`` -> [128, 256, 512]; one line naming ``flag`` otherwise."""
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise InputError(f"{flag} must be an integer or a comma-separated list of integers, got {text!r}") from None
    if not values:
        raise InputError(f"{flag} is empty: give at least one value")
    return values


def parse_name_list(text: str, flag: str, allowed) -> tuple:
    """``"glorot,rescaled"`` -> ("glorot", "rescaled"), each one of ``allowed``."""
    values = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    if not values:
        raise InputError(f"{flag} is empty: give at least one of {', '.join(allowed)}")
    bad = [v for v in values if v not in allowed]
    if bad:
        raise InputError(f"unknown {flag} {', '.join(bad)}: use {', '.join(allowed)}")
    return values


def describe_rescaling(r) -> str | None:
    """One caption line saying how the ``rescaled`` divisor was chosen (``r``: a Rescaling or None)."""
    if r is None:
        return None
    text = f"rescaled by s = {r.factor:.6f} ({r.source}"
    if r.coverage is not None:
        text += f", target coverage {r.coverage}"
    if r.samples:
        text += (
            f", coverage s.e. {r.coverage_stderr:.4f}, 95% CI for s [{r.factor_ci95[0]:.5f}, {r.factor_ci95[1]:.5f}]"
        )
    elif getattr(r, "factor_stderr", None) is not None:
        text += f", s.e. of s {r.factor_stderr:.5f}"
    return text + ")"
