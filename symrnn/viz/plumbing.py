"""Shape plumbing: the nodes a picture folds into the edges they feed.

A graph as built, and even more its gradient, is mostly bookkeeping: shape
reads (``shape_0``), arrays of zeros or ones (``Alloc``), broadcasts and
dimshuffles, the reversal and slice steps that a loop's gradient takes
(``getitem[::-1]``, ``getitem[1:]``), counts computed from shapes and cast
to floats.  :func:`fold_level` finds them in one level of a graph (the outer
graph or a loop's step) and says, for each value they compute, what it is
once they are folded away (a :class:`Fold`):

- a value that **passes through** plumbing from a drawn value: the edge starts
  at that value and carries the steps as marks (``ᵀ``, ``[::-1]``,
  ``broadcast``, ``into 0s[-1]``);
- a value **known without the data**: computed from constants and shapes
  alone (``0s``, ``x.shape[1]``, the ``1/n`` of a mean's gradient).  It has no
  edge; the node it feeds says it in its label (``#1 = x.shape[1]*4``).

Each kind of op is one row of :data:`RULES`.  The roots of a level (the
graph's outputs) are never folded, nor is any op that the table does not
name: a dot, a loop, a random draw stay nodes.

Example::

    >>> import symrnn.tensor as T
    >>> from symrnn.graph import toposort
    >>> x = T.matrix("x")
    >>> y = T.exp(x.T)
    >>> folds = fold_level(toposort([y]), keep=[y])
    >>> fold = folds[id(y.owner.inputs[0])]
    >>> fold.source is x, fold.marks
    (True, ('ᵀ',))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symrnn.graph import Apply, Constant, Variable
from symrnn.ops.elemwise import Cast, Elemwise
from symrnn.ops.fused import FusedElemwise
from symrnn.ops.gradops import SpecifyShape
from symrnn.ops.indexing import IncSubtensor, Subtensor
from symrnn.ops.shape import Alloc, ARange, DimShuffle, Join, Reshape, Shape, ShapeI

__all__ = ["Fold", "RULES", "drawn", "fold_level", "known_text", "leaf_fold"]

#: A known value's text longer than this is written :data:`FROM_SHAPES` instead.
TEXT_WIDTH = 32
FROM_SHAPES = "from shapes"
#: Known values are computed (to show ``0s`` or ``False``) only up to this many elements.
VALUE_LIMIT = 4096


@dataclass(frozen=True)
class Fold:
    """What a value is once the plumbing is folded away.

    ``source`` is the drawn value it passes through from (its edge starts
    there, with ``marks``, the plumbing steps in order), or ``None`` when the
    value is known without the data: then ``text`` says what it is (``0s``,
    ``x.shape[1]``), and ``value`` holds it when constants alone give it.
    """

    source: Variable | None = None
    marks: tuple[str, ...] = ()
    text: str = ""
    value: np.ndarray | None = None
    shapes: bool = False  # a known value read from shapes (not from constants alone)

    @property
    def known(self) -> bool:
        return self.source is None


def drawn(var: Variable) -> Fold:
    """A value drawn as itself (a node's output, an input, a shared variable)."""
    return Fold(source=var)


# --------------------------------------------------------------------------- texts


def _scalar_text(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{float(x):g}"
    return str(x)


def value_text(value: np.ndarray) -> str | None:
    """``2``, ``False``, ``0s`` (an array of zeros), or ``None`` for an array of different values."""
    value = np.asarray(value)
    if value.size == 0:
        return "[]"
    first = value.flat[0]
    if value.size > 1 and not bool(np.all(value == first)):
        return None
    text = _scalar_text(first.item() if hasattr(first, "item") else first)
    return text if value.ndim == 0 else f"{text}s"


def known_text(fold: Fold) -> str:
    """A known value's short text: ``fold.text``, or :data:`FROM_SHAPES` when it is too long to read."""
    return fold.text if len(fold.text) <= TEXT_WIDTH else (FROM_SHAPES if fold.shapes else "constant")


def _operand(text: str) -> str:
    """``text`` in parentheses where it has an operator outside them: ``(shape[0]-1)``, not ``min(a, b)``."""
    depth = 0
    for k, c in enumerate(text):
        depth += (c in "([") - (c in ")]")
        if depth == 0 and c in "+*/ " or depth == 0 and c == "-" and k > 0:
            return f"({text})"
    return text


_INFIX = {"add": "+", "sub": "-", "mul": "*", "true_div": "/", "int_div": "//"}


def _elemwise_text(op: Any, texts: Sequence[str]) -> str:
    if isinstance(op, Cast):
        return texts[0]
    name = getattr(op, "name", str(op))
    if name in _INFIX and len(texts) == 2:
        a, b = texts
        if name == "mul" and a == "1":
            return b
        if name in ("mul", "true_div") and b == "1" or name in ("add", "sub") and b == "0":
            return a
        if name == "add" and a == "0":
            return b
        return f"{_operand(a)}{_INFIX[name]}{_operand(b)}"
    if name == "neg" and len(texts) == 1:
        return f"-{_operand(texts[0])}"
    short = {"minimum": "min", "maximum": "max"}.get(name, name)
    return f"{short}({', '.join(texts)})"


def dimshuffle_mark(op: DimShuffle) -> str:
    """``ᵀ`` for a transpose, ``[None]`` / ``[:, None]`` / ``[0]`` for added or dropped axes, else the pattern."""
    kept = [a for a in op.new_order if a != "x"]
    if kept == [1, 0] and len(op.new_order) == 2:
        return "\u1d40"
    if kept != sorted(kept):
        return "transpose(" + ", ".join(str(a) for a in op.new_order) + ")"
    tokens, nxt = [], 0
    for a in op.new_order:
        if a == "x":
            tokens.append("None")
            continue
        while nxt < a:  # a dropped axis (of size 1)
            tokens.append("0")
            nxt += 1
        tokens.append(":")
        nxt = a + 1
    tokens += ["0"] * (op.input_ndim - nxt)
    while tokens and tokens[-1] == ":":
        tokens.pop()
    return "[" + ", ".join(tokens) + "]" if tokens else ""


def _spec_text(op: Any) -> str:
    """``[::-1]`` from ``getitem[::-1]``, ``[-1]`` from ``inc_subtensor[-1]``."""
    text = str(op)
    return text[text.index("["):] if "[" in text else text


# --------------------------------------------------------------------------- the rules


def _known(node: Apply, folds: Sequence[Fold], text: str) -> Fold:
    """A known value: computed (when constants alone give it and it is small) and described."""
    shapes = any(f.shapes for f in folds)
    value = None
    out = node.outputs[0]
    small = all(d is not None for d in out.type.shape) and int(np.prod(out.type.shape or (1,))) <= VALUE_LIMIT
    if not shapes and small and all(f.value is not None for f in folds):
        try:
            value = np.asarray(node.op.perform(node, [f.value for f in folds])[0])
        except Exception:  # noqa: BLE001 - a picture never fails over a value it only shows
            value = None
    if value is not None:
        text = value_text(value) or text
    return Fold(text=text, value=value, shapes=shapes)


def _through(fold: Fold, mark: str) -> Fold:
    """A value that passes through one more plumbing step."""
    return Fold(source=fold.source, marks=fold.marks + ((mark,) if mark else ()))


def _all_known(folds: Sequence[Fold]) -> bool:
    return all(f.known for f in folds)


def _shape_read(node: Apply, folds: Sequence[Fold]) -> Fold:
    x = node.inputs[0]
    owner = f"{x.name}." if x.name else ""
    text = f"{owner}shape[{node.op.i}]" if isinstance(node.op, ShapeI) else f"{owner}shape"
    return Fold(text=text, shapes=True)


def _uniform(fold: Fold) -> Any:
    """The one value that all elements of a known value have, or ``None``."""
    if not fold.known or fold.value is None or fold.value.size == 0:
        return None
    first = fold.value.flat[0]
    return first if bool(np.all(fold.value == first)) else None


#: Elementwise ops that give back one input unchanged when the others are these known values:
#: ``{op name: {position of the known input: its value}}`` (``x + 0``, ``x * 1``, ``x ** 1``...).
IDENTITIES = {"add": {0: 0, 1: 0}, "sub": {1: 0}, "mul": {0: 1, 1: 1}, "true_div": {1: 1}, "pow": {1: 1}}


def _identity(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    """``x + 0s`` (an accumulator that starts at zero), ``x ** 1``, ``switch(False, a, x)``: ``x`` itself, as the
    gradient rules build it.  A broadcast or a cast on the way is a mark."""
    name = getattr(node.op, "name", "")
    data = [k for k, f in enumerate(folds) if not f.known]
    if len(data) != 1:
        return None
    keep = data[0]
    if name == "switch" and keep in (1, 2):
        cond = _uniform(folds[0])
        if cond is None or bool(cond) != (keep == 1):
            return None
    elif name in IDENTITIES:
        rule = IDENTITIES[name]
        if not all(k in rule and _uniform(f) is not None and _uniform(f) == rule[k]
                   for k, f in enumerate(folds) if k != keep):
            return None
    else:
        return None
    out, source = node.outputs[0], node.inputs[keep]
    mark = "broadcast" if out.type.shape != source.type.shape else ""
    if out.dtype != source.dtype:
        mark = f"{mark} as {out.dtype}".strip()
    return _through(folds[keep], mark)


def _elemwise(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    if _all_known(folds):
        return _known(node, folds, _elemwise_text(node.op, [known_text(f) for f in folds]))
    return _identity(node, folds)


def _fused(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    return _known(node, folds, f"{node.op}(…)") if _all_known(folds) else None


def _dimshuffle(node: Apply, folds: Sequence[Fold]) -> Fold:
    if folds[0].known:
        return _known(node, folds, folds[0].text)
    return _through(folds[0], dimshuffle_mark(node.op))


def _subtensor(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    if node.op.advanced or not _all_known(folds[1:]):
        return None
    if folds[0].known:
        return _known(node, folds, known_text(folds[0]) + _spec_text(node.op))
    spec = _spec_text(node.op)
    return _through(folds[0], "" if spec in ("[0:]", "[:]") else spec)  # x[0:] is x


def _inc_subtensor(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    """``inc_subtensor[-1](zeros, g)``, the gradient of ``h[-1]``: ``g`` placed into an array of zeros."""
    x, y, *index = folds
    if node.op.advanced or not x.known or not _all_known(index):
        return None
    if y.known:
        return _known(node, folds, f"{known_text(x)}{_spec_text(node.op)}")
    return _through(y, f"into {known_text(x)}{_spec_text(node.op)}")


def _alloc(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    value, *dims = folds
    if not _all_known(dims):
        return None
    if value.known:
        text = known_text(value)
        if node.outputs[0].ndim > node.inputs[0].ndim and value.value is not None and value_text(value.value):
            text = value_text(value.value).rstrip("s") + "s"  # a scalar 0 filling an array: 0s
        return _known(node, folds, text)
    return _through(value, "broadcast")


def _reshape(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    x, *dims = folds
    if not _all_known(dims):
        return None
    text = "reshape(" + ", ".join(known_text(d) for d in dims) + ")"
    return _known(node, folds, known_text(x)) if x.known else _through(x, text)


def _join(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    """A concatenation that only pads a value with zeros (a loop's buffer) is plumbing; one of values is not."""
    data = [f for f in folds if not f.known]
    if not data:
        return _known(node, folds, "concatenate(…)")
    return _through(data[0], "pad") if len(data) == 1 else None


def _specify_shape(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    x, *dims = folds
    if not _all_known(dims):
        return None
    return _known(node, folds, known_text(x)) if x.known else _through(x, "shape checked")


def _arange(node: Apply, folds: Sequence[Fold]) -> Fold | None:
    return _known(node, folds, "arange(" + ", ".join(known_text(f) for f in folds) + ")") if _all_known(folds) \
        else None


#: One row per kind of plumbing op: given the folds of its inputs, the fold of its output, or ``None`` when
#: this node is not plumbing after all (its data decide something: an index read from an input, a real
#: concatenation of several values).
RULES: dict[type, Callable[[Apply, Sequence[Fold]], Fold | None]] = {
    ShapeI: _shape_read,
    Shape: _shape_read,
    Elemwise: _elemwise,  # only when it computes a known value: shapes, counts, casts of step counts
    FusedElemwise: _fused,
    DimShuffle: _dimshuffle,
    Subtensor: _subtensor,
    IncSubtensor: _inc_subtensor,
    Alloc: _alloc,
    Reshape: _reshape,
    Join: _join,
    SpecifyShape: _specify_shape,
    ARange: _arange,
}


def _rule(op: Any) -> Callable[[Apply, Sequence[Fold]], Fold | None] | None:
    for cls in type(op).__mro__:
        if cls in RULES:
            return RULES[cls]
    return None


def leaf_fold(var: Variable) -> Fold:
    """A graph input is drawn; a constant whose elements are all the same (``2``, ``0s``) is known."""
    if isinstance(var, Constant):
        data = np.asarray(var.data)
        if data.size <= VALUE_LIMIT:
            text = value_text(data)
            if text is not None:
                return Fold(text=text, value=data)
    return drawn(var)


def fold_level(nodes: Sequence[Apply], keep: Sequence[Variable] = ()) -> dict[int, Fold]:
    """Per ``id`` of each value that a plumbing node of ``nodes`` (in topological order) computes, its fold.

    Values in ``keep`` (the level's roots) and their nodes are not folded.  A
    value missing from the result is drawn as itself; a leaf's fold is
    :func:`leaf_fold`.
    """
    kept = {id(v.owner) for v in keep if v.owner is not None}
    folds: dict[int, Fold] = {}

    def fold_of(var: Variable) -> Fold:
        if id(var) in folds:
            return folds[id(var)]
        return leaf_fold(var) if var.owner is None else drawn(var)

    for node in nodes:
        rule = _rule(node.op)
        if rule is None or id(node) in kept or len(node.outputs) != 1:
            continue
        fold = rule(node, [fold_of(v) for v in node.inputs])
        if fold is not None:
            folds[id(node.outputs[0])] = fold
    return folds
