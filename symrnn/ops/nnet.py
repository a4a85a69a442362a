"""Neural-network ops: ``softmax``, ``log_softmax`` and the cross-entropies (Theano's ``T.nnet``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import (
    FLOAT_DTYPES,
    INT_DTYPES,
    Apply,
    GraphShapeError,
    GraphTypeError,
    Op,
    Variable,
    as_tensor_variable,
    op_error,
)
from symrnn.ops.elemwise import exp, hard_sigmoid, log, mul, neg, relu, sigmoid, softplus, sub, true_div
from symrnn.ops.reduce import sum as reduce_sum
from symrnn.ops.shape import arange, shape_i


class Softmax(Op):
    """Softmax (``log=False``) or log-softmax (``log=True``) along the last axis, stable for large inputs."""

    __props__ = ("log",)

    def __init__(self, log: bool = False) -> None:
        self.log = log
        self.name = "log_softmax" if log else "softmax"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.dtype not in FLOAT_DTYPES or x.ndim == 0:
            raise op_error(self, [x], "needs a float input of at least one dimension")
        return Apply(self, [x], [x.type])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        (x,) = inputs
        shifted = x - np.max(x, axis=-1, keepdims=True)
        if self.log:
            return [shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))]
        e = np.exp(shifted)
        return [e / np.sum(e, axis=-1, keepdims=True)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        x, out = inputs[0], outputs[0]
        if self.log:
            return (f"{out} = {x} - xp.max({x}, axis=-1, keepdims=True)\n"
                    f"{out} = {out} - xp.log(xp.sum(xp.exp({out}), axis=-1, keepdims=True))")
        return (f"{out} = xp.exp({x} - xp.max({x}, axis=-1, keepdims=True))\n"
                f"{out} /= xp.sum({out}, axis=-1, keepdims=True)")

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        (z,), (g,) = node.outputs, output_grads
        if self.log:
            return [sub(g, mul(exp(z), reduce_sum(g, axis=-1, keepdims=True)))]
        return [mul(sub(g, reduce_sum(mul(g, z), axis=-1, keepdims=True)), z)]


def _as_rows(x: Any) -> Variable:
    x = as_tensor_variable(x)
    return x.dimshuffle("x", 0) if x.ndim == 1 else x


def softmax(x: Any) -> Variable:
    """Row-wise softmax.  On a vector it returns a ``(1, n)`` matrix, as Theano does.

    Example::

        >>> import symrnn.tensor as T
        >>> T.nnet.softmax(T.vector("v")).type
        float64(1, ?)
    """
    return Softmax(log=False)(_as_rows(x))


def log_softmax(x: Any) -> Variable:
    """Row-wise ``log(softmax(x))``, computed stably (no ``log(0)``)."""
    return Softmax(log=True)(_as_rows(x))


def _log_of(p: Variable) -> Variable:
    """``log(p)``; for ``p = softmax(a)`` it is ``log_softmax(a)``, which stays finite where ``p`` underflows."""
    if p.owner is not None and isinstance(p.owner.op, Softmax) and not p.owner.op.log:
        return Softmax(log=True)(p.owner.inputs[0])
    return log(p)


def categorical_crossentropy(coding_dist: Any, true_dist: Any) -> Variable:
    """Cross-entropy per row: ``-log(p[i, y[i]])`` for integer targets, ``-sum(t * log(p))`` for one-hot rows.

    When ``coding_dist`` is ``softmax(a)``, the log is taken as ``log_softmax(a)``, so
    a confident wrong prediction costs a large finite number instead of ``inf``.

    Example::

        >>> import symrnn.tensor as T
        >>> p, y = T.matrix("p"), T.ivector("y")
        >>> T.nnet.categorical_crossentropy(p, y).type
        float64(?,)
    """
    p, t = as_tensor_variable(coding_dist), as_tensor_variable(true_dist)
    if p.dtype not in FLOAT_DTYPES or p.ndim == 0:
        raise op_error("categorical_crossentropy", [p, t], "the coding distribution must be a float tensor of "
                                                          "probabilities (one row per example)")
    if t.dtype in INT_DTYPES and t.ndim == p.ndim - 1:
        if p.ndim != 2:
            raise op_error("categorical_crossentropy", [p, t], "integer targets need a matrix of probabilities",
                           GraphTypeError)
        if None not in (p.type.shape[0], t.type.shape[0]) and p.type.shape[0] != t.type.shape[0]:
            raise op_error("categorical_crossentropy", [p, t], f"{p.type.shape[0]} rows of probabilities but "
                                                              f"{t.type.shape[0]} targets", GraphShapeError)
        return neg(_log_of(p)[arange(shape_i(p, 0)), t])
    if t.ndim != p.ndim or t.dtype not in FLOAT_DTYPES | INT_DTYPES | {"bool"}:
        raise op_error("categorical_crossentropy", [p, t], "targets must be integer class indices (one "
                                                           "dimension less) or a distribution (same ndim)")
    for axis, (a, b) in enumerate(zip(p.type.shape, t.type.shape)):
        if None not in (a, b) and a != b:
            raise op_error("categorical_crossentropy", [p, t], f"the probabilities and the target distribution "
                                                              f"differ in size along axis {axis} ({a} vs {b})",
                           GraphShapeError)
    return neg(reduce_sum(mul(t, _log_of(p)), axis=-1))


def binary_crossentropy(output: Any, target: Any) -> Variable:
    """Elementwise ``-(t log(o) + (1 - t) log(1 - o))``.

    When ``output`` is ``sigmoid(a)`` it is computed as ``t softplus(-a) + (1 - t) softplus(a)``,
    which stays finite where the sigmoid rounds to 0 or 1.
    """
    o, t = as_tensor_variable(output), as_tensor_variable(target)
    if o.dtype not in FLOAT_DTYPES:
        raise op_error("binary_crossentropy", [o, t], "the output must be a float tensor of probabilities")
    if t.dtype not in FLOAT_DTYPES | INT_DTYPES | {"bool"}:
        raise op_error("binary_crossentropy", [o, t], "the target must be numbers in [0, 1]")
    if o.owner is not None and o.owner.op == sigmoid.op:  # type: ignore[attr-defined]
        return _crossentropy_of_logits(o.owner.inputs[0], t)
    return neg(mul(t, log(o)) + mul(sub(1, t), log(sub(1, o))))


def _crossentropy_of_logits(a: Variable, t: Variable) -> Variable:
    """``binary_crossentropy(sigmoid(a), t)`` as ``t softplus(-a) + (1 - t) softplus(a)``: finite for any ``a``,
    and its gradients are exactly ``sigmoid(a) - t`` for ``a`` and ``-a`` for ``t``."""
    return mul(t, softplus(neg(a))) + mul(sub(1, t), softplus(a))


def sigmoid_binary_crossentropy(output: Any, target: Any) -> Variable:
    """Theano's ``T.nnet.sigmoid_binary_crossentropy``: ``binary_crossentropy(sigmoid(output), target)``
    from the pre-sigmoid ``output`` (any real), computed without overflow.

    Example::

        >>> import numpy as np, symrnn.tensor as T
        >>> a, t = T.vector("a"), T.vector("t")
        >>> T.nnet.sigmoid_binary_crossentropy(a, t).eval({a: np.array([0.0, 800.0]), t: np.array([1.0, 0.0])}).tolist()
        [0.6931471805599453, 800.0]
    """
    a, t = as_tensor_variable(output), as_tensor_variable(target)
    if a.dtype not in FLOAT_DTYPES:
        raise op_error("sigmoid_binary_crossentropy", [a, t], "the output must be a float tensor of "
                                                              "pre-sigmoid values")
    if t.dtype not in FLOAT_DTYPES | INT_DTYPES | {"bool"}:
        raise op_error("sigmoid_binary_crossentropy", [a, t], "the target must be numbers in [0, 1]")
    return _crossentropy_of_logits(a, t)


def softmax_graph(c: Any) -> Variable:
    """Theano's ``T.nnet.softmax_graph``: ``exp(c) / sum(exp(c), axis=-1)`` written out as elementwise ops and a
    sum, not the ``Softmax`` op.  Like Theano's, it does not shift by the maximum, so a large input overflows;
    ``softmax`` is the stable one.

    Example::

        >>> import numpy as np, symrnn.tensor as T
        >>> v = T.vector("v")
        >>> T.nnet.softmax_graph(v).eval({v: np.log(np.array([1.0, 3.0]))})
        array([0.25, 0.75])
    """
    c = as_tensor_variable(c)
    if c.dtype not in FLOAT_DTYPES or c.ndim == 0:
        raise op_error("softmax_graph", [c], "needs a float input of at least one dimension")
    e = exp(c)
    return true_div(e, reduce_sum(e, axis=-1, keepdims=True))


ultra_fast_sigmoid = sigmoid

__all__ = ["Softmax", "softmax", "log_softmax", "categorical_crossentropy", "binary_crossentropy",
           "sigmoid_binary_crossentropy", "softmax_graph",
           "sigmoid", "ultra_fast_sigmoid", "hard_sigmoid", "softplus", "relu"]
