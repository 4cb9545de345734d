"""Which tensors of a checkpoint form one recurrent cell, and how to assemble it (SPEC section 8).

A cell is found from its hidden-to-hidden weight and completed by name: PyTorch
``weight_hh[_l{k}[_reverse]]`` with ``weight_ih``, ``bias_ih``, ``bias_hh`` and ``weight_hr`` (an LSTM
with ``proj_size``) of the same suffix, for ``nn.RNN/GRU/LSTM`` and the ``*Cell`` variants; Keras
``recurrent_kernel`` with ``kernel`` and ``bias`` beside it; Flax ``hi/hf/hg/ho`` (LSTM), ``hr/hz/hn``
(GRU) and ``h`` (SimpleCell) Dense kernels with their ``i*`` input kernels; a custom name declared
with ``layout`` (``lstm``, ``gru``, ``rnn``, ``rnn-relu``, ``keras-lstm``, ``keras-gru``,
``keras-rnn``), its input weights and biases found by name (``hh`` -> ``ih``, ``w``/``weight`` ->
``b``/``bias``) or given. The kind follows from the gate count (1: tanh RNN, 3: GRU, 4: LSTM):
the ReLU nonlinearity is not stored in a state dict, so ``rnn-relu`` must be declared.
:func:`assemble` converts each layout to the canonical PyTorch one of :class:`~specdiag._cells.Cell`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._cells import Cell
from ._errors import InputError
from ._results import Result

__all__ = ["LAYOUTS", "CellPlan", "torch_cell", "keras_cell", "flax_cells", "declared_cell", "assemble"]

#: layouts a custom-named tensor can be declared as (``layout``), -> (convention, cell kind or None)
LAYOUTS = {
    "lstm": ("torch", "lstm"),
    "gru": ("torch", "gru"),
    "rnn": ("torch", "rnn_tanh"),
    "rnn-relu": ("torch", "rnn_relu"),
    "keras-lstm": ("keras", "lstm"),
    "keras-gru": ("keras", "gru"),
    "keras-rnn": ("keras", "rnn_tanh"),
    "linear": ("torch", "linear"),
}
KIND_OF_GATES = {1: "rnn_tanh", 3: "gru", 4: "lstm"}
GATES_OF_KIND = {"linear": 1, "rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}
#: Keras GRU gates (z, r, h) -> canonical (r, z, n) block order
KERAS_GRU_ORDER = (1, 0, 2)
_TORCH_SUFFIX = re.compile(r"weight_hh((?:_l\d+)?(?:_reverse)?)$")


@dataclass(frozen=True)
class CellPlan(Result):
    """How to build one cell: the role -> tensor map and the conventions of the stored layout.

    Attributes
    ----------
    kind : str
        Cell kind (:data:`specdiag._cells.CELL_KINDS`).
    convention : str
        "torch", "keras" or "flax" (how :func:`assemble` converts the tensors).
    roles : tuple
        (role, tensor name) pairs: ``w_hh``, ``w_ih``, ``b_ih``, ``b_hh``, ``w_hr``, ``bias`` (Keras),
        or Flax's ``hi``, ``ii``, ``hi.bias``, ...
    direction : str or None
        "forward" or "reverse" (bidirectional layers), else None.
    linear_before_reset : bool
        GRU: r applied after W_hn (PyTorch, Keras reset_after, Flax), or before (ONNX default).
    """

    kind: str
    convention: str
    roles: tuple
    direction: str | None = None
    linear_before_reset: bool = True

    def tensor(self, role: str) -> str | None:
        """The tensor playing ``role``, or None."""
        return dict(self.roles).get(role)

    def tensors(self) -> tuple:
        """Every tensor this cell reads."""
        return tuple(name for _, name in self.roles)


def _present(infos: dict, name: str) -> str | None:
    return name if name in infos else None


def torch_cell(name: str, infos: dict, kind: str | None = None) -> tuple[CellPlan | None, str | None]:
    """(plan, None) for a PyTorch ``weight_hh`` tensor, or (None, why it is not a cell)."""
    shape = tuple(infos[name].shape)
    match = _TORCH_SUFFIX.search(name)
    if len(shape) != 2 or min(shape) < 1 or match is None:
        return None, f"shape {shape} is not (g h x p) for a recurrent layer"
    stem, suffix = name[: match.start()], match.group(1)
    roles = [("w_hh", name)]
    for role, leaf in (("w_ih", "weight_ih"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh"), ("w_hr", "weight_hr")):
        found = _present(infos, f"{stem}{leaf}{suffix}")
        if found:
            roles.append((role, found))
    proj = dict(roles).get("w_hr")
    rows, cols = shape
    if proj is not None:
        p_shape = tuple(infos[proj].shape)
        if len(p_shape) != 2 or p_shape[0] != cols or rows != 4 * p_shape[1]:
            return None, f"LSTM projection {proj} {p_shape} does not fit {name} {shape} (need 4h x p and p x h)"
        kind = kind or "lstm"
    else:
        gates, rest = divmod(rows, cols)
        if rest or gates not in KIND_OF_GATES:
            return (
                None,
                f"shape {shape} is not (g h x h) for g = 1, 3 or 4 gates, and no weight_hr (proj_size) beside it",
            )
        kind = kind or KIND_OF_GATES[gates]
        if GATES_OF_KIND[kind] != gates:
            return None, f"shape {shape} has {gates} gate block(s), not the {GATES_OF_KIND[kind]} of a {kind}"
    if suffix.endswith("_reverse"):
        direction: str | None = "reverse"
    else:
        direction = "forward" if f"{name}_reverse" in infos else None
    return CellPlan(kind, "torch", tuple(roles), direction), None


def _keras_sibling(name: str, leaf: str) -> str:
    match = re.search(r"recurrent_kernel(:\d+)?$", name)
    assert match is not None
    return name[: match.start()] + leaf + (match.group(1) or "")


def keras_cell(name: str, infos: dict, kind: str | None = None) -> tuple[CellPlan | None, str | None]:
    """(plan, None) for a Keras ``recurrent_kernel`` (h x g h), or (None, why not)."""
    shape = tuple(infos[name].shape)
    if len(shape) != 2 or min(shape) < 1:
        return None, f"shape {shape} is not (h x g h)"
    gates, rest = divmod(shape[1], shape[0])
    if rest or gates not in KIND_OF_GATES:
        return None, f"shape {shape} is not (h x g h) for g = 1, 3 or 4 gates"
    kind = kind or KIND_OF_GATES[gates]
    if GATES_OF_KIND[kind] != gates:
        return None, f"shape {shape} has {gates} gate block(s), not the {GATES_OF_KIND[kind]} of a {kind}"
    roles = [("w_hh", name)]
    for role, leaf in (("w_ih", "kernel"), ("bias", "bias")):
        found = _present(infos, _keras_sibling(name, leaf)) if re.search(r"recurrent_kernel(:\d+)?$", name) else None
        if found:
            roles.append((role, found))
    bias = dict(roles).get("bias")
    reset_after = not (kind == "gru" and bias is not None and len(infos[bias].shape) == 1)
    low = name.lower()
    direction = "reverse" if "backward" in low else ("forward" if "forward" in low else None)
    return CellPlan(kind, "keras", tuple(roles), direction, linear_before_reset=reset_after), None


FLAX_GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "rnn_tanh": ("",)}


def flax_cells(infos: dict) -> dict[str, CellPlan]:
    """First hidden-kernel tensor name -> plan, for every Flax cell (``<prefix>/h?/kernel`` groups)."""
    groups: dict[str, dict[str, str]] = {}
    pattern = re.compile(r"^(.*?)([./]?)h([ifgorzn]?)([./])kernel$")
    for name in infos:
        match = pattern.match(name)
        if match:
            groups.setdefault(match.group(1) + match.group(2), {})[match.group(3)] = name
    plans = {}
    for prefix, members in groups.items():
        for kind, letters in FLAX_GATES.items():
            if set(letters) <= set(members):
                sep = "/" if "/" in members[letters[0]] else "."
                roles = []
                for g in letters:
                    roles.append((f"h{g}", members[g]))
                    for what, leaf in ((f"i{g}", "kernel"), (f"h{g}.bias", "bias"), (f"i{g}.bias", "bias")):
                        layer = ("i" if what.startswith("i") else "h") + g
                        found = _present(infos, f"{prefix}{layer}{sep}{leaf}")
                        if found:
                            roles.append((what, found))
                plans[members[letters[0]]] = CellPlan(kind, "flax", tuple(roles))
                break
    return plans


def _bias_candidates(name: str) -> list[tuple[str, str]]:
    """(role, name) guesses for a custom-named cell's input weight and biases."""
    out = []
    for hh in ("hh", "HH", "rec", "recurrent"):
        if hh in name:
            cut = name.rfind(hh)
            ih = name[:cut] + "ih" + name[cut + len(hh) :]
            out.append(("w_ih", ih))
            for w, b in (("weight", "bias"), ("w_", "b_"), ("W_", "b_"), ("W", "b"), ("w", "b")):
                for role, base in (("b_hh", name), ("b_ih", ih)):
                    if w in base:
                        k = base.rfind(w)
                        out.append((role, base[:k] + b + base[k + len(w) :]))
    return out


def declared_cell(
    name: str, infos: dict, layout: str, biases: list | None = None
) -> tuple[CellPlan | None, str | None]:
    """(plan, None) for a tensor declared as ``layout`` (:data:`LAYOUTS`), or (None, why it does not fit)."""
    convention, kind = LAYOUTS[layout]
    shape = tuple(infos[name].shape)
    gates = GATES_OF_KIND[kind]
    rows, cols = shape if convention == "torch" else shape[::-1]
    if len(shape) != 2 or rows != gates * cols:
        want = f"({gates} h x h)" if convention == "torch" else f"(h x {gates} h)"
        return None, f"declared {layout} but has shape {shape}: need {want}"
    roles = [("w_hh", name)]
    if convention == "keras":
        plan, why = keras_cell(name, infos, kind) if name.endswith("recurrent_kernel") else (None, None)
        if plan:
            roles = list(plan.roles)
    else:
        seen = set()
        for role, guess in _bias_candidates(name):
            if role not in seen and guess != name and guess in infos:
                roles.append((role, guess))
                seen.add(role)
    for i, given in enumerate(biases or []):
        if given not in infos:
            raise InputError(f"bias {given!r} is not a tensor of the file: give a tensor name", param="bias")
        role = "bias" if convention == "keras" else ("b_ih", "b_hh")[min(i, 1)]
        roles = [r for r in roles if r[0] != role] + [(role, given)]
    return CellPlan(kind, convention, tuple(roles)), None


def _blocks(a: np.ndarray, order: tuple, axis: int) -> np.ndarray:
    parts = np.split(a, len(order), axis=axis)
    return np.concatenate([parts[k] for k in order], axis=axis)


def assemble(plan: CellPlan, read: Callable[[str], np.ndarray]) -> Cell:
    """The :class:`~specdiag._cells.Cell` of ``plan`` in float64 (``read(name)`` gives a float64 array)."""
    roles = dict(plan.roles)
    get = {role: read(tensor) for role, tensor in roles.items()}
    if plan.convention == "torch":
        return Cell(
            plan.kind,
            get["w_hh"],
            get.get("w_ih"),
            _flat(get.get("b_ih")),
            _flat(get.get("b_hh")),
            get.get("w_hr"),
            plan.linear_before_reset,
        )
    if plan.convention == "keras":
        order = KERAS_GRU_ORDER if plan.kind == "gru" else tuple(range(GATES_OF_KIND[plan.kind]))
        w_hh = _blocks(get["w_hh"], order, 1).T
        w_ih = _blocks(get["w_ih"], order, 1).T if "w_ih" in get else None
        b_ih = b_hh = None
        if "bias" in get:
            bias = get["bias"]
            if bias.ndim == 2:  # GRU reset_after: (input bias, recurrent bias)
                b_ih, b_hh = _blocks(bias[0], order, 0), _blocks(bias[1], order, 0)
            else:
                b_ih = _blocks(bias.reshape(-1), order, 0)
        return Cell(plan.kind, w_hh, w_ih, b_ih, b_hh, None, plan.linear_before_reset)
    letters = FLAX_GATES[plan.kind]
    w_hh = np.concatenate([get[f"h{g}"].T for g in letters], axis=0)
    w_ih = np.concatenate([get[f"i{g}"].T for g in letters], axis=0) if all(f"i{g}" in get for g in letters) else None
    h = get[f"h{letters[0]}"].shape[1]

    def stacked(side: str):
        if not any(f"{side}{g}.bias" in get for g in letters):
            return None
        return np.concatenate([get.get(f"{side}{g}.bias", np.zeros(h)).reshape(-1) for g in letters])

    return Cell(plan.kind, w_hh, w_ih, stacked("i"), stacked("h"), None, True)


def _flat(a):
    return None if a is None else np.asarray(a).reshape(-1)
