"""Safe algebraic rewrites: each is a short named function of one apply node.

"Safe" means the result is the same numbers (up to rounding) for every input,
with the same dtype and shape; stabilizing rewrites replace an expression that
overflows by one that does not (``log(sigmoid(x))`` -> ``-softplus(-x)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from symrnn.graph import Apply, Constant, Variable
from symrnn.ops import elemwise as E
from symrnn.ops.fused import FusedElemwise
from symrnn.ops.random import RandomDraw
from symrnn.ops.shape import Alloc, DimShuffle, ShapeI
from symrnn.scan.op import Scan

FOLD_LIMIT = 10_000  # constant folding keeps results up to this many elements


def _op_name(var: Variable) -> str | None:
    return getattr(var.owner.op, "name", None) if var.owner is not None else None


def _is_constant(var: Variable, value: float) -> bool:
    return isinstance(var, Constant) and var.data.size >= 1 and bool(np.all(var.data == value))


def _same_type(a: Variable, b: Variable) -> bool:
    return a.type == b.type


def fold_constants(node: Apply) -> Sequence[Variable] | None:
    """A node whose inputs are all constants becomes a constant (small results only; never random draws,
    loops or ops with side effects, such as ``printing.Print``)."""
    if not node.inputs or not all(isinstance(v, Constant) for v in node.inputs):
        return None
    if isinstance(node.op, (RandomDraw, Scan)) or getattr(node.op, "has_side_effects", False):
        return None  # a draw, a loop and an op that acts (printing) happen when the function runs
    try:
        values = node.op.perform(node, [v.data for v in node.inputs])
    except Exception:  # leave the error to run time, where it names the user's line
        return None
    out = []
    for var, value in zip(node.outputs, values):
        value = np.asarray(value, dtype=var.dtype)
        if value.size > FOLD_LIMIT or not var.type.accepts_shape(value.shape):
            return None
        out.append(Constant(var.type.clone(shape=value.shape), value))
    return out


def remove_identity_arithmetic(node: Apply) -> Sequence[Variable] | None:
    """``x * 1``, ``x + 0``, ``x - 0``, ``x / 1`` and ``x ** 1`` are ``x`` (when the type is unchanged)."""
    name = getattr(node.op, "name", None)
    out = node.outputs[0]
    pairs = {"mul": [(0, 1), (1, 0)], "add": [(0, 1), (1, 0)], "sub": [(0, 1)], "true_div": [(0, 1)],
             "pow": [(0, 1)]}.get(name, [])
    neutral = {"mul": 1, "add": 0, "sub": 0, "true_div": 1, "pow": 1}.get(name)
    for keep, drop in pairs:
        if _is_constant(node.inputs[drop], neutral) and _same_type(node.inputs[keep], out):
            return [node.inputs[keep]]
    return None


def switch_on_constant(node: Apply) -> Sequence[Variable] | None:
    """``switch(c, a, b)`` with a constant, uniform condition ``c`` is ``a`` or ``b`` (when the type is unchanged).

    The gradient of ``x ** 2`` has one, guarding ``x = 0`` for exponents below 1.
    """
    cond = node.inputs[0] if getattr(node.op, "name", None) == "switch" else None
    if not isinstance(cond, Constant) or cond.data.size == 0:
        return None
    flat = cond.data.ravel()
    if not np.all(flat == flat[0]):
        return None
    chosen = node.inputs[1] if flat[0] else node.inputs[2]
    return [chosen] if _same_type(chosen, node.outputs[0]) else None


def remove_double_negation(node: Apply) -> Sequence[Variable] | None:
    """``-(-x)`` is ``x``."""
    if getattr(node.op, "name", None) == "neg" and _op_name(node.inputs[0]) == "neg":
        return [node.inputs[0].owner.inputs[0]]
    return None


def square_and_sqrt_powers(node: Apply) -> Sequence[Variable] | None:
    """``x ** 2`` is ``sqr(x)`` and ``x ** 0.5`` is ``sqrt(x)``: cheaper, same numbers."""
    if getattr(node.op, "name", None) != "pow" or node.outputs[0].dtype not in ("float32", "float64"):
        return None
    base, exponent = node.inputs
    if not _same_type(base, node.outputs[0]):
        return None
    if _is_constant(exponent, 2):
        return [E.sqr(base)]
    if _is_constant(exponent, 0.5):
        return [E.sqrt(base)]
    return None


def merge_dimshuffles(node: Apply) -> Sequence[Variable] | None:
    """Two dimshuffles in a row are one; a dimshuffle that changes nothing disappears."""
    if not isinstance(node.op, DimShuffle):
        return None
    inner = node.inputs[0]
    if inner.owner is not None and isinstance(inner.owner.op, DimShuffle):
        first = inner.owner.op.new_order
        combined = ["x" if a == "x" else first[a] for a in node.op.new_order]
        source = inner.owner.inputs[0]
        if combined == list(range(source.ndim)):
            return [source]
        return [DimShuffle(source.ndim, combined)(source)]
    return None


def _shape_root(var: Variable) -> Variable:
    """The variable whose shape ``var`` has by construction: through elementwise ops whose other operands
    are scalars (``2 * x`` and ``x ** 2`` have the shape of ``x``)."""
    while var.owner is not None and isinstance(var.owner.op, E.Elemwise):
        full = [v for v in var.owner.inputs if v.ndim > 0]
        if len(full) != 1 or full[0].ndim != var.ndim:
            break
        var = full[0]
    return var


def _alloc_of_shape_of(var: Variable, other: Variable) -> Variable | None:
    """If ``var`` is ``Alloc(value, *shape of other)``, return ``value``."""
    if var.owner is None or not isinstance(var.owner.op, Alloc):
        return None
    value, *dims = var.owner.inputs
    if len(dims) != other.ndim:
        return None
    for k, dim in enumerate(dims):
        static = other.type.shape[k]
        if isinstance(dim, Constant) and static is not None and int(dim.data) == static:
            continue
        if dim.owner is not None and isinstance(dim.owner.op, ShapeI) and dim.owner.op.i == k \
                and _shape_root(dim.owner.inputs[0]) is _shape_root(other):
            continue
        return None
    return value


def elemwise_of_filled(node: Apply) -> Sequence[Variable] | None:
    """``alloc(c, *x.shape) * x`` is ``c * x``: the broadcast does the filling (gradients make many of these)."""
    if not isinstance(node.op, E.Elemwise) or len(node.inputs) != 2 or isinstance(node.op, E.Cast):
        return None
    a, b = node.inputs
    for filled, other, first in ((a, b, True), (b, a, False)):
        value = _alloc_of_shape_of(filled, other)
        if value is not None and value.ndim <= other.ndim:
            new = node.op(value, other) if first else node.op(other, value)
            if _same_type(new, node.outputs[0]):
                return [new]
    return None


def spelled_out_sigmoid(node: Apply) -> Sequence[Variable] | None:
    """``1 / (1 + exp(-z))`` is ``sigmoid(z)``, which is stable for large ``|z|``."""
    if getattr(node.op, "name", None) != "true_div":
        return None
    z = E.sigmoid_argument(node.outputs[0])
    if z is not None and z.dtype == node.outputs[0].dtype:
        new = E.sigmoid(z)
        if _same_type(new, node.outputs[0]):
            return [new]
    return None


def stable_log_sigmoid(node: Apply) -> Sequence[Variable] | None:
    """``log(sigmoid(z))`` is ``-softplus(-z)`` and ``log(1 - sigmoid(z))`` is ``-softplus(z)``: no ``log(0)``."""
    if getattr(node.op, "name", None) != "log":
        return None
    new = E.stable_log_of(node.inputs[0])
    return [new] if new is not None and _same_type(new, node.outputs[0]) else None


def shape_of_elementwise(node: Apply) -> Sequence[Variable] | None:
    """``shape_i(f(x, ...))`` of an elementwise ``f`` is ``shape_i(x)`` for an input ``x`` that is not
    broadcast along axis ``i`` (only static 1s broadcast, and sizes are checked), so that asking for the
    size of a result does not keep the result itself alive (``mean(h ** 2)`` divides by the size of
    ``h ** 2``)."""
    if not isinstance(node.op, ShapeI):
        return None
    (value,) = node.inputs
    if value.owner is None or not isinstance(value.owner.op, (E.Elemwise, FusedElemwise)):
        return None
    axis = node.op.i % value.ndim if value.ndim else None
    for x in value.owner.inputs:
        if axis is not None and x.ndim == value.ndim and x.type.shape[axis] != 1:
            return [ShapeI(axis)(x)]
    return None


CANONICALIZE = [fold_constants, remove_identity_arithmetic, switch_on_constant, remove_double_negation,
                merge_dimshuffles, elemwise_of_filled, square_and_sqrt_powers, shape_of_elementwise]
STABILIZE = [spelled_out_sigmoid, stable_log_sigmoid]
