"""ONNX models (``pip install 'specdiag[onnx]'``, the ``onnx`` package only; nothing is executed).

Every LSTM, GRU and RNN node is read by its operator's semantics: W is [directions, gates*H, input],
R is [directions, gates*H, H], B is [directions, 2*gates*H] (input biases, then recurrent), with
gates i, o, f, c (LSTM) and z, r, h (GRU). Each direction becomes the PyTorch names
``<node>.weight_hh_l0[_reverse]``, ``weight_ih_l0``, ``bias_ih_l0``, ``bias_hh_l0`` with the gates
reordered to PyTorch's (i, f, g, o; r, z, n), so the cell rules read them; a GRU's
``linear_before_reset`` (default 0) is kept as a hint for the cell. Weights are followed through
initializers, Constant and Identity nodes; external data is read from beside the model. A
weight that cannot be resolved (computed by If/Loop or other nodes), non-default activations or
peepholes make the node "not checked", with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._errors import InputError
from ._text import printable
from ._weights_base import TensorInfo, WeightsSource

__all__ = ["open_onnx"]

#: operator -> (gates, ONNX gate index for each PyTorch gate, default activations)
OPERATORS = {
    "LSTM": (4, (0, 2, 3, 1), ("Sigmoid", "Tanh", "Tanh")),
    "GRU": (3, (1, 0, 2), ("Sigmoid", "Tanh")),
    "RNN": (1, (0,), ("Tanh",)),
}


def _constants(graph) -> dict[str, Any]:
    """value name -> TensorProto for initializers, Constant outputs and Identity chains."""
    from onnx import numpy_helper  # noqa: PLC0415,F401 (optional dependency, only for .onnx files)

    known: dict[str, Any] = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and node.output:
                    known[node.output[0]] = attr.t
    changed = True
    while changed:
        changed = False
        for node in graph.node:
            if node.op_type == "Identity" and node.input and node.input[0] in known and node.output[0] not in known:
                known[node.output[0]] = known[node.input[0]]
                changed = True
    return known


def _attributes(node) -> dict:
    from onnx import helper  # noqa: PLC0415 (optional dependency)

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _reorder(a: np.ndarray, order: tuple, gates: int, axis: int) -> np.ndarray:
    if gates == 1:
        return a
    parts = np.split(a, gates, axis=axis)
    return np.concatenate([parts[k] for k in order], axis=axis)


def open_onnx(path: Path):
    """A :class:`~specdiag._weights.WeightsSource` over the recurrent nodes of an ONNX model."""

    try:
        import onnx  # noqa: PLC0415 (optional dependency)
        from onnx import numpy_helper  # noqa: PLC0415
    except ImportError:
        raise InputError(
            f"reading {printable(str(path))!r} needs the onnx package: pip install 'specdiag[onnx]'", param="path"
        ) from None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise InputError(
            f"{printable(str(path))!r} is not a valid ONNX model ({type(exc).__name__}): the file is corrupt or of "
            "another type",
            param="path",
        ) from None
    known = _constants(model.graph)
    base = str(path.parent)
    arrays: dict[str, Any] = {}
    infos: dict[str, TensorInfo] = {}
    hints: dict[str, dict] = {}
    unchecked: list = []
    notes: list = []

    def array(value: str) -> np.ndarray:
        try:
            return numpy_helper.to_array(known[value], base_dir=base).astype(np.float64)
        except Exception as exc:
            raise InputError(
                f"cannot read ONNX weight {printable(value)!r} of {printable(str(path))!r} ({type(exc).__name__}): "
                f"copy its external data file next to the model"
            ) from None

    for index, node in enumerate(model.graph.node):
        if node.op_type not in OPERATORS:
            continue
        label = node.name or f"{node.op_type}_{index}"
        gates, order, default_acts = OPERATORS[node.op_type]
        attrs = _attributes(node)
        inputs = list(node.input) + [""] * 8
        w_name, r_name, b_name = inputs[1], inputs[2], inputs[3]
        acts = [a.decode() if isinstance(a, bytes) else str(a) for a in attrs.get("activations", [])]
        kind = "rnn_tanh"
        why = None
        missing = [n for n in (w_name, r_name) if n not in known] + ([b_name] if b_name and b_name not in known else [])
        if missing:
            why = (
                f"{node.op_type} weight {printable(missing[0])!r} is computed in the graph (If/Loop or other nodes), "
                "not stored: cannot be resolved"
            )
        elif node.op_type == "RNN" and acts[:1] == ["Relu"]:
            kind = "rnn_relu"
        elif acts and [a.lower() for a in acts[: len(default_acts)]] != [a.lower() for a in default_acts]:
            why = f"{node.op_type} with activations {acts}: only the default activations are supported"
        elif node.op_type == "LSTM" and len(node.input) > 7 and node.input[7]:
            why = "LSTM with peepholes (input P): not supported"
        elif attrs.get("clip") is not None:
            notes.append(f"{label}: cell clip {attrs['clip']} ignored")
        r_shape = tuple(int(d) for d in known[r_name].dims) if r_name in known else ()
        if why is not None:
            unchecked.append((f"{label}.R", list(r_shape), why))
            continue
        directions = r_shape[0]
        direction = attrs.get("direction", b"forward")
        direction = direction.decode() if isinstance(direction, bytes) else str(direction)
        for d in range(directions):
            suffix = "_reverse" if (direction == "reverse" or d == 1) else ""
            names = {role: f"{label}.{role}_l0{suffix}" for role in ("weight_hh", "weight_ih", "bias_ih", "bias_hh")}
            arrays[names["weight_hh"]] = (r_name, d, "R", node.op_type)
            arrays[names["weight_ih"]] = (w_name, d, "W", node.op_type)
            if b_name:
                arrays[names["bias_ih"]] = (b_name, d, "Bi", node.op_type)
                arrays[names["bias_hh"]] = (b_name, d, "Bh", node.op_type)
            h = r_shape[2]
            w_shape = tuple(int(x) for x in known[w_name].dims)
            shapes = {
                "weight_hh": (gates * h, h),
                "weight_ih": (gates * h, w_shape[2]),
                "bias_ih": (gates * h,),
                "bias_hh": (gates * h,),
            }
            for role, name in names.items():
                if name in arrays:
                    infos[name] = TensorInfo(
                        name, shapes[role], "float32", 4 * int(np.prod(shapes[role])), None, int(np.prod(shapes[role]))
                    )
            if node.op_type == "GRU":
                hints[names["weight_hh"]] = {
                    "linear_before_reset": bool(attrs.get("linear_before_reset", 0)),
                    "kind": "gru",
                }
            elif node.op_type == "RNN":
                hints[names["weight_hh"]] = {"kind": kind}

    cache: dict[str, np.ndarray] = {}

    def load(name: str) -> np.ndarray:
        value, d, part, op_type = arrays[name]
        if value not in cache:
            cache[value] = array(value)
        gates, order, _ = OPERATORS[op_type]
        a = cache[value][d]
        if part in ("Bi", "Bh"):
            half = a.shape[0] // 2
            a = a[:half] if part == "Bi" else a[half:]
            return _reorder(a, order, gates, 0)
        return _reorder(a, order, gates, 0)

    source = WeightsSource(str(path), "onnx", infos, load, notes=notes)
    source.hints = hints
    source.unchecked = unchecked
    return source
