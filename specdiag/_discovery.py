"""Which tensors of a checkpoint are recurrences, and how to read each: the one table of name rules.

A rule matches a tensor's full name (``rnn.weight_hh_l1``, ``cell/hi/kernel``) and says how the
tensor becomes one or more recurrence matrices (or diagonals of eigenvalues):

- PyTorch ``nn.RNN``/``nn.GRU``/``nn.LSTM`` ``weight_hh_l{k}[_reverse]`` is (g h x h) with the
  gates stacked by rows, g = 1, 3 (r, z, n) or 4 (i, f, g, o): each gate is checked on its own row,
  named ``weight_hh_l1[f]``.
- Keras ``recurrent_kernel`` is (h x g h), gates stacked by columns (LSTM i, f, c, o; GRU z, r, h),
  transposed (Keras multiplies h @ K).
- Flax ``hi/hf/hg/ho`` (LSTM), ``hr/hz/hn`` (GRU) and ``h`` (simple cell) kernels, and hand-written
  names (``W_hh``, ``W_rec``, ``*.recurrent.*``, a reservoir's ``W``): one square matrix.
- Diagonal SSM parameters: LRU ``nu_log``/``theta_log`` (lambda = exp(-exp(nu) + i exp(theta)));
  Mamba/S4D ``A_log`` (A = -exp(A_log), real negative, discretized lambda = exp(dt A) with
  dt = softplus(dt_bias) or exp(log_dt) when stored beside it); S4D ``log_A_real`` + ``A_imag``.
- torch parametrization inputs (``parametrizations.weight.original``) are never checked raw.

Everything else is skipped with a reason (square tensors are listed), and ``keys`` override the
rules: a selected tensor is checked even when no rule names it.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._cell_plan import LAYOUTS, CellPlan, assemble, declared_cell, flax_cells, keras_cell, torch_cell
from ._cells import Cell
from ._errors import InputError, NothingToCheck
from ._results import Result
from ._validation import choice

__all__ = [
    "NameRule",
    "RULES",
    "MODELS",
    "PARAMS",
    "Planned",
    "Skipped",
    "Plan",
    "Selection",
    "plan_checks",
    "materialize",
    "rules_table",
]

#: families of rules selectable with ``model``
MODELS = ("auto", "torch", "keras", "flax", "ssm", "reservoir", "generic")
#: how 1-D tensors are read, selectable with ``param``
PARAMS = ("auto", "lru", "a_log", "eigenvalues")
TORCH_GATES = {1: None, 3: "rzn", 4: "ifgo"}
KERAS_GATES = {1: None, 3: "zrh", 4: "ifco"}
LAYER_OF_GATES = {1: "RNN", 3: "GRU", 4: "LSTM"}
SEP = r"(?:^|[./])"


@dataclass(frozen=True)
class NameRule(Result):
    """One row of the discovery table.

    Attributes
    ----------
    name : str
        Short identifier printed per tensor (``torch-weight_hh``).
    family : str
        One of :data:`MODELS` (what ``model`` filters on).
    pattern : str
        Regular expression searched in the full tensor name.
    layout : str
        How the tensor becomes matrices: ``gates_rows``, ``gates_columns``, ``square``,
        ``square_transposed``, ``lru``, ``a_log``, ``s4d``, ``eigenvalues`` or ``skip``.
    description : str
        One line for ``--list`` and the README.
    """

    name: str
    family: str
    pattern: str
    layout: str
    description: str
    #: used under ``model="auto"`` only when no other rule matches anything (short, ambiguous names)
    fallback: bool = False


RULES: tuple[NameRule, ...] = (
    NameRule(
        "torch-weight_hh",
        "torch",
        SEP + r"weight_hh(?:_l\d+)?(?:_reverse)?$",
        "cell",
        "PyTorch nn.RNN/GRU/LSTM (and RNNCell/GRUCell/LSTMCell, proj_size) weight_hh with weight_ih, biases and "
        "weight_hr beside it: one cell per layer and direction, gated by its maximal Lyapunov exponent",
    ),
    NameRule(
        "torch-parametrization",
        "torch",
        SEP + r"parametrizations\.",
        "skip",
        "input of a torch parametrization (the weight is computed from it): never checked raw; "
        "use check_module(module) or save the materialized weight",
    ),
    NameRule(
        "keras-recurrent_kernel",
        "keras",
        SEP + r"recurrent_kernel(?::\d+)?$",
        "cell",
        "Keras SimpleRNN/GRU/LSTM recurrent_kernel (h x g h, gates by columns: GRU z,r,h; LSTM i,f,c,o) "
        "with kernel and bias beside it: one cell, gated by its maximal Lyapunov exponent",
    ),
    NameRule(
        "flax-hidden-kernel",
        "flax",
        SEP + r"h[ifgorzn]?[./]kernel$",
        "cell",
        "Flax LSTMCell (hi, hf, hg, ho), GRUCell (hr, hz, hn) and SimpleCell (h) hidden kernels with their input "
        "kernels and biases: one cell, gated by its maximal Lyapunov exponent",
    ),
    NameRule(
        "lru-nu_log",
        "ssm",
        SEP + r"nu_log$",
        "lru",
        "LRU diagonal: lambda = exp(-exp(nu_log) + i exp(theta_log)) with the theta_log beside it",
    ),
    NameRule(
        "ssm-A_log",
        "ssm",
        SEP + r"A_log$",
        "a_log",
        "Mamba/S4D A_log: A = -exp(A_log) (real, negative), lambda = exp(dt A), "
        "dt = softplus(dt_bias or dt_proj.bias) or exp(log_dt), else dt = 1",
    ),
    NameRule(
        "s4d-log_A_real",
        "ssm",
        SEP + r"log_A_real$",
        "s4d",
        "S4D diagonal: A = -exp(log_A_real) + i A_imag, lambda = exp(dt A), dt = exp(log_dt) when stored, else 1",
    ),
    NameRule(
        "generic-recurrent",
        "generic",
        r"(?:^|[./_])(?:W_hh|w_hh|Whh|W_rec|w_rec|Wrec|W_res|W_rr|recurrent_weights?|recurrent)(?:$|[./_])",
        "square",
        "hand-written and JAX recurrent weights (W_hh, W_rec, W_res, *.recurrent.*, recurrent_weight)",
    ),
    NameRule(
        "reservoir-W",
        "reservoir",
        SEP + r"W$",
        "square",
        "reservoir (reservoirpy-style) recurrent matrix W (under model reservoir, or when no other rule matches)",
        True,
    ),
    NameRule(
        "eigenvalues",
        "ssm",
        SEP + r"(?:lambda|Lambda|lam|eigenvalues|eigvals)$",
        "eigenvalues",
        "a 1-D vector of the eigenvalues of a diagonal recurrence (lambda, Lambda, eigenvalues; under model ssm, "
        "or when no other rule matches)",
        True,
    ),
)
_COMPILED = [(rule, re.compile(rule.pattern)) for rule in RULES]
#: names whose skipping deserves a specific reason
_INPUT_WEIGHT = re.compile(SEP + r"(?:weight_ih_l\d+(?:_reverse)?|kernel|W_ih|w_ih|Win|W_in|i[ifgorzn][./]kernel)$")
#: names that look like a recurrence: such a tensor is never silently skipped (checked, or "not checked")
_RECURRENT_HINT = re.compile(
    r"(?:^|[./_])(?:[Ww]_?hh|[Ww]hh|hh|[Ww]_?rec|rec|recurrent\w*|recurrence|reservoir|[Ww]_?res)(?:$|[./_:\d\[])"
)
_PARTNERS = re.compile(SEP + r"(?:theta_log|A_imag|log_dt|dt_bias|gamma_log)$|dt_proj\.bias$")


@dataclass(frozen=True)
class Planned(Result):
    """One row to check: a matrix, a diagonal or a cell; where it comes from and which rule said so."""

    name: str
    tensor: str
    rule: str
    layout: str
    reason: str
    gate: str | None = None
    gate_index: int = 0
    gates: int = 1
    partners: tuple = ()
    cell: CellPlan | None = None

    def tensors(self) -> tuple:
        """Every stored tensor this row reads."""
        return (self.tensor, *self.partners, *(self.cell.tensors() if self.cell else ()))


@dataclass(frozen=True)
class Skipped(Result):
    """A tensor not checked, and why."""

    name: str
    shape: list
    dtype: str
    reason: str


@dataclass(frozen=True)
class Plan(Result):
    """What would be checked (``planned``), what is skipped (``skipped``: not recurrences), and the
    recurrent-looking tensors that cannot be checked (``unchecked``: they fail the run unless allowed)."""

    planned: list
    skipped: list
    unchecked: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def rules_table() -> list[tuple[str, str, str]]:
    """(rule, family, description) rows for the README and ``--list``."""
    return [(r.name, r.family, r.description) for r in RULES]


def _sibling(name: str, leaf: str) -> str:
    """The name of tensor ``leaf`` beside ``name`` (same prefix and separator)."""
    match = re.search(r"[./](?=[^./]*$)", name)
    return f"{name[: match.start()]}{name[match.start()]}{leaf}" if match else leaf


def _rule_for(name: str, model: str, param: str, fallback: bool) -> NameRule | None:
    for rule, pattern in _COMPILED:
        if model != "auto" and rule.family != model:
            continue
        if model == "auto" and rule.fallback and not fallback:
            continue
        if param == "lru" and rule.layout not in ("lru",) and rule.family == "ssm":
            continue
        if param == "a_log" and rule.layout == "lru":
            continue
        if pattern.search(name):
            return rule
    return None


def _is_square(shape) -> bool:
    return len(shape) == 2 and shape[0] == shape[1] and shape[0] >= 1


def _is_stacked(shape) -> bool:
    """(k h x h) or (h x k h) for k = 1, 3, 4: what a recurrent weight with gates looks like."""
    if len(shape) != 2 or min(shape) < 1:
        return False
    big, small = max(shape), min(shape)
    return big % small == 0 and big // small in (1, 2, 3, 4)


def _cell_reason(plan: CellPlan) -> str:
    kind = {"rnn_tanh": "tanh RNN", "rnn_relu": "ReLU RNN", "gru": "GRU", "lstm": "LSTM", "linear": "linear"}[plan.kind]
    extra = " with projection (proj_size)" if plan.tensor("w_hr") else ""
    where = f", {plan.direction}" if plan.direction else ""
    text = f"{kind} cell{extra} ({plan.convention} layout{where})"
    if plan.kind == "rnn_tanh" and plan.convention == "torch":
        text += "; the nonlinearity is not stored: tanh assumed (declare layout rnn-relu for ReLU)"
    if not any(role == "w_ih" or (role.startswith("i") and not role.endswith("bias")) for role, _ in plan.roles):
        text += "; no input weights found: gated in the zero-input regime"
    return text


def _cell_entries(name: str, plan: CellPlan, rule: str, gates: list | None, infos: dict) -> list:
    """The cell's row, plus one matrix row per gate block named in ``gates`` (checked as plain matrices)."""
    tensor = plan.roles[0][1]
    entries = [Planned(name, tensor, rule, "cell", _cell_reason(plan), cell=plan)]
    letters = _CANONICAL_GATES.get(plan.kind, "")
    for g in gates or []:
        if g not in letters:
            continue
        i = letters.index(g)
        if plan.convention == "flax":
            tensor = plan.tensor(f"h{g}") or name
            entries.append(
                Planned(
                    f"{tensor}[{g}]", tensor, rule, "square_transposed", f"gate {g} block, selected with gates", gate=g
                )
            )
            continue
        if plan.convention == "keras":
            i = "zrh".index({"r": "r", "z": "z", "n": "h"}[g]) if plan.kind == "gru" else i
            layout = "gates_columns"
        else:
            layout = "gates_rows"
        shape = tuple(infos[tensor].shape)
        rows, cols = shape if layout == "gates_rows" else shape[::-1]
        if rows // len(letters) != cols:
            continue  # a projected LSTM's blocks are not square
        entries.append(
            Planned(
                f"{name}[{g}]",
                tensor,
                rule,
                layout,
                f"gate {g} block, selected with gates",
                gate=g,
                gate_index=i,
                gates=len(letters),
            )
        )
    return entries


_CANONICAL_GATES = {"gru": "rzn", "lstm": "ifgo"}


def _plan_one(
    name: str, info, rule: NameRule, infos: dict, flax: dict, gates: list | None, hints: dict
) -> tuple[list, str | None]:
    """(planned entries, reason it is not checked) for a tensor matched by ``rule``."""
    shape = tuple(info.shape)
    layout = rule.layout
    if layout == "skip":
        return [], rule.description
    if info.sparse:
        return (
            [Planned(name, name, rule.name, "sparse", f"{rule.description} (scipy.sparse {info.sparse})")]
            if _is_square(shape)
            else []
        ), (None if _is_square(shape) else f"sparse matrix of shape {shape}: not square")
    if layout == "cell":
        if rule.family == "flax":
            plan = flax.get(name)
            if plan is None:
                return (
                    [],
                    "Flax hidden kernel without the rest of its cell (hi, hf, hg, ho / hr, hz, hn beside it): "
                    "declare it with layout",
                )
            stem = re.match(r"^(.*?)[./]?h[ifgorzn]?[./]kernel$", name)
            return _cell_entries((stem.group(1) if stem else "") or name, plan, rule.name, gates, infos), None
        hint = hints.get(name, {})
        plan, why = (torch_cell if rule.family == "torch" else keras_cell)(name, infos, hint.get("kind"))
        if plan is not None and "linear_before_reset" in hint:
            plan = dataclasses.replace(plan, linear_before_reset=bool(hint["linear_before_reset"]))
        if plan is None:
            return [], f"{why}: declare the cell with layout (e.g. --layout lstm --key {name})"
        return _cell_entries(name, plan, rule.name, gates, infos), None
    if layout in ("square", "square_transposed"):
        if not _is_square(shape):
            hint = "stacked gates? declare the cell" if _is_stacked(shape) else "declare what it is"
            return (
                [],
                f"{rule.name} expects a square matrix, got shape {shape}: "
                f"{hint} with layout (e.g. --layout gru --key {name})",
            )
        return [Planned(name, name, rule.name, layout, rule.description)], None
    if layout == "eigenvalues":
        if len(shape) != 1 or shape[0] < 1:
            return [], f"{rule.name} expects a 1-D vector, got shape {shape}"
        return [Planned(name, name, rule.name, layout, rule.description)], None
    if layout == "lru":
        partner = _sibling(name, "theta_log")
        if partner not in infos or tuple(infos[partner].shape) != shape:
            return [], f"nu_log without a theta_log of the same shape beside it ({partner})"
        return [
            Planned(
                name.rsplit("nu_log", 1)[0] + "lambda", name, rule.name, layout, rule.description, partners=(partner,)
            )
        ], None
    if layout == "a_log":
        steps = [_sibling(name, leaf) for leaf in ("dt_bias", "log_dt")] + [_sibling(name, "dt_proj.bias")]
        found = tuple(s for s in steps if s in infos)[:1]
        text = rule.description + (
            f"; dt from {found[0]}" if found else "; no step stored beside it: dt = 1 (any dt > 0 gives radius < 1)"
        )
        return [Planned(name.rsplit("A_log", 1)[0] + "lambda", name, rule.name, layout, text, partners=found)], None
    if layout == "s4d":
        imag = _sibling(name, "A_imag")
        if imag not in infos or tuple(infos[imag].shape) != shape:
            return [], f"log_A_real without an A_imag of the same shape beside it ({imag})"
        dt = _sibling(name, "log_dt")
        partners = (imag, dt) if dt in infos else (imag,)
        text = rule.description + ("" if dt in infos else "; no log_dt stored: dt = 1")
        return [
            Planned(name.rsplit("log_A_real", 1)[0] + "lambda", name, rule.name, layout, text, partners=partners)
        ], None
    raise AssertionError(layout)  # pragma: no cover


def _skip_reason(name: str, info, diagonal: bool) -> str | None:
    """Why an unmatched tensor is skipped (None: not worth listing)."""
    shape = tuple(info.shape)
    if _PARTNERS.search(name):
        return None  # read together with the tensor it belongs to (theta_log, dt, ...)
    if _is_square(shape) or info.sparse:
        if _INPUT_WEIGHT.search(name):
            return (
                "square, but an input or feed-forward weight (not a recurrence): select it with keys to check it anyway"
            )
        return (
            "square, but no recurrent-name rule matches (a feed-forward layer?): select it with keys to check it anyway"
        )
    if len(shape) == 1 and diagonal:
        return "1-D, but no eigenvalue-name rule matches (a bias?): select it with keys to read it as eigenvalues"
    return None


def _select(names: list, keys) -> list:
    if not keys:
        return names
    keys = [k for k in keys if k]
    chosen = [n for n in names if any(n == k or fnmatch.fnmatchcase(n, k) for k in keys)]
    if not chosen:
        raise InputError(
            f"no tensor matches {', '.join(keys)} (keys); available: {', '.join(names) or 'none'}", param="keys"
        )
    return chosen


def _declared(chosen: list, infos: dict, layout: str, biases, gates) -> Plan:
    """The plan when ``layout`` declares what the keyed tensors are."""
    planned = []
    for name in chosen:
        if layout == "linear":
            if not _is_square(tuple(infos[name].shape)):
                raise InputError(
                    f"layout: tensor {name!r} has shape {tuple(infos[name].shape)}: "
                    "a linear recurrence needs a square matrix",
                    param="layout",
                )
            planned.append(Planned(name, name, "layout", "square", "declared linear with layout: a square matrix"))
            continue
        plan, why = declared_cell(name, infos, layout, biases)
        if plan is None:
            raise InputError(f"layout: tensor {name!r} {why}", param="layout")
        planned.extend(_cell_entries(name, plan, "layout", gates, infos))
    return Plan(planned, [])


def _unmatched(name: str, info, keys, sole: bool, diagonal: bool) -> Planned | None:
    """A keyed (or sole) tensor no rule names, as a raw square matrix or diagonal."""
    shape = tuple(info.shape)
    how = "selected by keys" if keys else "the file's only tensor"
    if _is_square(shape):
        return Planned(
            name,
            name,
            "key" if keys else "only-tensor",
            "sparse" if info.sparse else "square",
            f"{how}: a square matrix",
        )
    if len(shape) == 1 and shape[0] >= 1 and diagonal:
        return Planned(
            name,
            name,
            "key" if keys else "only-tensor",
            "eigenvalues",
            f"{how}: a 1-D vector of eigenvalues (diagonal)",
        )
    want = (
        "a square 2-D matrix or a 1-D diagonal"
        if diagonal
        else "a square 2-D matrix (or use diagonal for a 1-D vector of eigenvalues)"
    )
    if keys:
        hint = " (stacked gates? declare them with layout, e.g. layout='gru')" if _is_stacked(shape) else ""
        raise InputError(f"tensor {name!r} has shape {shape}: need {want}{hint}", param="keys")
    raise NothingToCheck(
        f"no square 2-D tensor{' or 1-D vector' if diagonal else ''} found ({name} {shape}): need {want}"
    )


def _by_rules(infos: dict, chosen: list, *, keys, model, param, diagonal, gates, fallback: bool, hints: dict) -> Plan:
    planned: list = []
    skipped: list = []
    unchecked: list = []
    flax = flax_cells(infos)
    consumed: set = set()
    for plan in flax.values():
        consumed.update(plan.tensors())
    sole = len(infos) == 1
    for name in chosen:
        info = infos[name]
        rule = _rule_for(name, model, param, fallback)
        if rule is not None:
            entries, reason = _plan_one(name, info, rule, infos, flax, gates, hints)
            if entries:
                planned.extend(entries)
                for entry in entries:
                    consumed.update(entry.tensors())
            elif not (rule.family == "flax" and name in consumed):
                if keys and rule.layout != "skip":
                    raise InputError(f"tensor {name!r}: {reason}", param="keys")
                (skipped if rule.layout == "skip" else unchecked).append(
                    Skipped(name, list(info.shape), info.dtype, reason or "")
                )
            continue
        if keys or sole:
            planned.append(_unmatched(name, info, keys, sole, diagonal))
            continue
        shape = tuple(info.shape)
        if _RECURRENT_HINT.search(name) and (_is_stacked(shape) or info.sparse) and not _INPUT_WEIGHT.search(name):
            rules = "no name rule" if model == "auto" else f"no rule of model {model}"
            unchecked.append(
                Skipped(
                    name,
                    list(shape),
                    info.dtype,
                    f"its name looks recurrent but {rules} reads it: declare it with layout (or select it with keys)",
                )
            )
            continue
        reason = _skip_reason(name, info, diagonal)
        if reason:
            skipped.append(Skipped(name, list(shape), info.dtype, reason))
    skipped = [s for s in skipped if s.name not in consumed]
    unchecked = [s for s in unchecked if s.name not in consumed]
    return Plan(planned, skipped, unchecked)


@dataclass(frozen=True)
class Selection:
    """What to check in a source and how, gathered (the options of ``check_file``).

    Attributes
    ----------
    keys : list of str, optional
        Names or globs: only these tensors, each by its rule or else as a raw square matrix
        (or, with ``diagonal``, a 1-D vector of eigenvalues).
    model : str
        Rule family (:data:`MODELS`); ``auto`` uses every rule, the reservoir and eigenvalue rules
        (``W``, ``lambda``) only when no other rule matches anything (and says so in the plan's notes).
    param : str
        How SSM diagonals are read (:data:`PARAMS`); ``eigenvalues`` is the same as ``diagonal``.
    diagonal : bool
        1-D tensors selected by ``keys`` (or a file's only tensor) are eigenvalues.
    layout : str, optional
        What the keyed tensors are (:data:`specdiag._cell_plan.LAYOUTS`: ``gru``, ``keras-lstm``, ...).
    biases : list of str, optional
        With ``layout``: the bias tensors (input bias, then hidden bias), when not found by name.
    gates : list of str, optional
        Gate letters (r, z, n; i, f, g, o) whose blocks are also checked as plain matrices.
    """

    keys: list | None = None
    model: str = "auto"
    param: str = "auto"
    diagonal: bool = False
    layout: str | None = None
    biases: list | None = None
    gates: list | None = None

    def plan(self, source, *, require: bool = True) -> Plan:
        """The plan of a :class:`~specdiag._weights.WeightsSource` under this selection (:func:`plan_checks`)."""
        return plan_checks(source.infos, self, hints=source.hints, unreadable=source.unchecked, require=require)


def plan_checks(
    infos: dict,
    selection: Selection | None = None,
    *,
    hints: dict | None = None,
    unreadable: list | None = None,
    require: bool = True,
) -> Plan:
    """Decide, from headers only, which tensors are checked and how (the rule table), and which are skipped.

    Parameters
    ----------
    infos : dict
        name -> :class:`~specdiag._weights.TensorInfo` (shape and dtype from the headers).
    selection : Selection, optional
        What to check (keys, model, param, diagonal, layout, biases, gates: :class:`Selection`);
        default every tensor by the name rules.
    hints : dict, optional
        Tensor name -> cell facts a reader knows beyond the names (``kind``, ``linear_before_reset``).
    unreadable : list, optional
        (name, shape, reason) of recurrences a reader found but cannot provide: "not checked".
    require : bool
        Raise when nothing would be checked or reported.

    Returns
    -------
    Plan

    Raises
    ------
    InputError
        Unknown ``model``/``param``/``layout``, keys that match nothing, a keyed tensor of the wrong shape.
    NothingToCheck
        Nothing to check or report (an InputError too): no rule selects a tensor, or a file's only
        tensor is not a matrix.
    """
    selection = selection or Selection()
    keys, layout, biases, gates = selection.keys, selection.layout, selection.biases, selection.gates
    model = choice(selection.model, "model", MODELS)
    param = choice(selection.param, "param", PARAMS)
    diagonal = selection.diagonal or param == "eigenvalues"
    names = list(infos)
    if layout is not None:
        layout = choice(layout, "layout", tuple(LAYOUTS))
        if not keys:
            raise InputError("layout declares what the tensors selected with keys are: give keys too", param="layout")
        return _declared(_select(names, keys), infos, layout, biases, gates)
    if biases:
        raise InputError(
            "biases are read with layout (declaring a custom-named cell): give layout and keys", param="biases"
        )
    chosen = _select(names, keys)
    options: dict[str, Any] = {
        "keys": keys,
        "model": model,
        "param": param,
        "diagonal": diagonal,
        "gates": gates,
        "hints": hints or {},
    }
    plan = _by_rules(infos, chosen, fallback=False, **options)
    extra = [Skipped(name, list(shape), "float32", reason) for name, shape, reason in unreadable or []]
    plan = Plan(plan.planned, plan.skipped, plan.unchecked + extra)
    if not plan.planned and not plan.unchecked and model == "auto" and not keys:
        wider = _by_rules(infos, chosen, fallback=True, **options)
        if wider.planned:
            rules = sorted({p.rule for p in wider.planned})
            note = (
                f"no framework rule matched: the short-name rule(s) {', '.join(rules)} were used "
                "(model reservoir or ssm says so explicitly)"
            )
            plan = Plan(wider.planned, wider.skipped, wider.unchecked, [note])
    if not plan.planned and not plan.unchecked and require:
        listed = "; ".join(f"{s.name} {tuple(s.shape)}: {s.reason}" for s in plan.skipped[:5])
        shapes = ", ".join(f"{n} {tuple(infos[n].shape)}" for n in names[:8]) or "no tensors"
        raise NothingToCheck(
            f"no recurrent tensor found by the name rules (tensors: {shapes}{', ...' if len(names) > 8 else ''})"
            + (f"; skipped {listed}" if listed else "")
            + ": select tensors with keys (--key) and declare cells with layout (--layout), "
            "or see the rules with --list"
        )
    return plan


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def materialize(entry: Planned, read: Callable[[str], np.ndarray]) -> np.ndarray | Cell:
    """The matrix (2-D), eigenvalues (1-D complex) or :class:`~specdiag._cells.Cell` that ``entry`` checks,
    in float64/complex128.

    ``read(name)`` returns a stored tensor (any float dtype, bfloat16 included).
    """
    layout = entry.layout
    if layout == "sparse":
        return read(entry.tensor)
    if layout == "cell":
        assert entry.cell is not None
        return assemble(entry.cell, lambda name: _upcast(name, read(name)))
    a = _upcast(entry.tensor, read(entry.tensor))
    if layout == "gates_rows":
        h = a.shape[1]
        return np.ascontiguousarray(a[entry.gate_index * h : (entry.gate_index + 1) * h]) if entry.gates > 1 else a
    if layout == "gates_columns":
        h = a.shape[0]
        block = a[:, entry.gate_index * h : (entry.gate_index + 1) * h] if entry.gates > 1 else a
        return np.ascontiguousarray(block.T)
    if layout == "square_transposed":
        return np.ascontiguousarray(a.T)
    if layout in ("square", "eigenvalues"):
        return a
    with np.errstate(over="ignore", under="ignore"):
        if layout == "lru":
            theta = _upcast(entry.partners[0], read(entry.partners[0]))
            lam = np.exp(-np.exp(a) + 1j * np.exp(theta))
        elif layout == "a_log":
            dt: float | np.ndarray = 1.0
            if entry.partners:
                raw = _upcast(entry.partners[0], read(entry.partners[0]))
                dt = np.exp(raw) if entry.partners[0].endswith("log_dt") else _softplus(raw)
                if dt.ndim > a.ndim or dt.shape != a.shape[: dt.ndim]:
                    raise InputError(
                        f"tensor {entry.tensor!r} has shape {a.shape} but its step {entry.partners[0]!r} "
                        f"has shape {dt.shape}: they do not match"
                    )
                dt = dt.reshape(dt.shape + (1,) * (a.ndim - dt.ndim))
            lam = np.exp(-dt * np.exp(a)).astype(np.complex128)
        elif layout == "s4d":
            imag = _upcast(entry.partners[0], read(entry.partners[0]))
            dt = 1.0
            if len(entry.partners) > 1:
                log_dt = _upcast(entry.partners[1], read(entry.partners[1]))
                dt = np.exp(log_dt).reshape(log_dt.shape + (1,) * (a.ndim - log_dt.ndim))
            lam = np.exp(dt * (-np.exp(a) + 1j * imag))
        else:  # pragma: no cover
            raise AssertionError(layout)
    lam = np.asarray(lam, dtype=np.complex128).reshape(-1)
    if not np.all(np.isfinite(lam)):
        raise InputError(
            f"tensor {entry.tensor!r}: the {entry.rule} parameterization overflows (exp of a huge entry): "
            "the parameters are corrupt"
        )
    return lam


def _upcast(name: str, a) -> np.ndarray:
    """float64 (or complex128) copy of a stored tensor; NaN/inf refused naming the first index."""
    a = np.asarray(a)
    if a.dtype.kind == "c":
        out = a.astype(np.complex128)
    elif a.dtype.kind in "fiub" or a.dtype.name in ("bfloat16", "float8_e4m3fn", "float8_e5m2"):
        out = a.astype(np.float64)
    else:
        raise InputError(f"tensor {name!r} has dtype {a.dtype}, not a number type: select numeric tensors with keys")
    bad = ~np.isfinite(out)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"tensor {name!r} has {int(bad.sum())} NaN/inf entries (first at index {where}): fix or drop it"
        )
    return out
