"""The tensor language on variables: Python operators, ``.T``, ``.shape``, ``.sum()`` and friends.

These are attached to :class:`symrnn.graph.Variable` when ``symrnn.tensor`` is
imported, so that ``graph.py`` needs no op imports.
"""

from __future__ import annotations

from typing import Any

from symrnn.compile.function import function
from symrnn.graph import Variable
from symrnn.ops import blas, elemwise, reduce, shape
from symrnn.ops.indexing import getitem


def _binary(fn: Any) -> tuple[Any, Any]:
    def forward(self: Variable, other: Any) -> Variable:
        return fn(self, other)

    def reflected(self: Variable, other: Any) -> Variable:
        return fn(other, self)

    return forward, reflected


def _getitem(self: Variable, index: Any) -> Variable:
    return getitem(self, index)


def _dimshuffle(self: Variable, *pattern: Any) -> Variable:
    return shape.dimshuffle(self, *pattern)


def _reshape(self: Variable, *newshape: Any, ndim: int | None = None) -> Variable:
    if len(newshape) == 1:
        newshape = newshape[0]
    return shape.reshape(self, newshape, ndim=ndim)


def _transpose(self: Variable, *axes: Any) -> Variable:
    if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
        axes = tuple(axes[0])
    return shape.transpose(self, axes or None)


def _eval(self: Variable, inputs_to_values: dict[Variable, Any] | None = None) -> Any:
    """Compute this variable's value (Theano's ``x.eval({x: value})``); the function is compiled once."""
    inputs_to_values = inputs_to_values or {}
    key = tuple(id(v) for v in inputs_to_values)
    cache = self.__dict__.setdefault("_eval_cache", {})
    if key not in cache:
        cache[key] = function(list(inputs_to_values), self, on_unused_input="ignore")
    return cache[key](*inputs_to_values.values())


METHODS: dict[str, Any] = {
    "eval": _eval,
    "__neg__": elemwise.neg,
    "__abs__": elemwise.abs_,
    "__invert__": elemwise.invert,
    "__lt__": lambda self, other: elemwise.lt(self, other),
    "__le__": lambda self, other: elemwise.le(self, other),
    "__gt__": lambda self, other: elemwise.gt(self, other),
    "__ge__": lambda self, other: elemwise.ge(self, other),
    "__getitem__": _getitem,
    "T": property(lambda self: shape.transpose(self)),
    "shape": property(lambda self: shape.shape(self)),
    "size": property(lambda self: reduce.prod(shape.shape(self))),
    "sum": lambda self, axis=None, keepdims=False, dtype=None: reduce.sum(self, axis, keepdims, dtype),
    "mean": lambda self, axis=None, keepdims=False: reduce.mean(self, axis, keepdims),
    "max": lambda self, axis=None, keepdims=False: reduce.max(self, axis, keepdims),
    "min": lambda self, axis=None, keepdims=False: reduce.min(self, axis, keepdims),
    "prod": lambda self, axis=None, keepdims=False: reduce.prod(self, axis, keepdims),
    "argmax": lambda self, axis=None, keepdims=False: reduce.argmax(self, axis, keepdims),
    "argmin": lambda self, axis=None, keepdims=False: reduce.argmin(self, axis, keepdims),
    "reshape": _reshape,
    "flatten": lambda self, ndim=1: shape.flatten(self, ndim),
    "dimshuffle": _dimshuffle,
    "transpose": _transpose,
    "dot": lambda self, other: blas.dot(self, other),
    "astype": lambda self, dtype: elemwise.cast(self, dtype),
    "clip": lambda self, lo, hi: elemwise.clip(self, lo, hi),
    "exp": elemwise.exp,
    "log": elemwise.log,
    "tanh": elemwise.tanh,
    "sqrt": elemwise.sqrt,
    "zeros_like": lambda self, dtype=None: shape.zeros_like(self, dtype),
    "ones_like": lambda self, dtype=None: shape.ones_like(self, dtype),
}

for _name, _fn in {
    "add": elemwise.add, "sub": elemwise.sub, "mul": elemwise.mul, "truediv": elemwise.true_div,
    "floordiv": elemwise.int_div, "mod": elemwise.mod, "pow": elemwise.pow, "matmul": blas.matmul,
    "and": elemwise.and_, "or": elemwise.or_, "xor": elemwise.xor,
}.items():
    METHODS[f"__{_name}__"], METHODS[f"__r{_name}__"] = _binary(_fn)


def install() -> None:
    """Attach the tensor language to ``Variable`` (idempotent)."""
    for name, fn in METHODS.items():
        setattr(Variable, name, fn)
    # A NumPy array on the left of an operator must defer to the variable (x + np_array builds a node).
    Variable.__array_ufunc__ = None  # type: ignore[attr-defined]
    # Python sets __hash__ to None when a class defines __eq__ after the fact; keep identity semantics.
    Variable.__hash__ = object.__hash__  # type: ignore[method-assign]


install()
