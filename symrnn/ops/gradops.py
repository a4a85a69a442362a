"""Identity ops that only change what ``grad`` sees, and ``specify_shape``, an identity that checks a shape.

Each is one row of the same idea: the value passes through unchanged (the
generated code makes a view, ``y = x[...]``, never a copy) and only the
gradient rule, or the static type, differs.

| op | forward | gradient |
|---|---|---|
| ``zero_grad(x)`` | ``x`` | zeros: ``x`` stays connected to the cost |
| ``consider_constant(x)`` | ``x`` | zeros (Theano's older spelling of ``zero_grad``) |
| ``disconnected_grad(x)`` | ``x`` | none: the path counts as disconnected |
| ``undefined_grad(x)`` | ``x`` | undefined: ``grad`` through it is an error |
| ``grad_clip(x, lo, hi)`` | ``x`` | the gradient, clipped to ``[lo, hi]`` |
| ``grad_scale(x, m)`` | ``x`` | the gradient times ``m`` |
| ``specify_shape(x, s)`` | ``x``, checked | passes through; the output's static shape is ``s`` |
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import (
    Apply,
    Constant,
    GraphNdimError,
    GraphShapeError,
    Op,
    TensorType,
    Variable,
    as_tensor_variable,
    describe,
    grad_undefined,
    op_error,
)
from symrnn.ops.elemwise import clip, mul
from symrnn.ops.shape import _dims_of, zeros_like


class _GradientIdentity(Op):
    """The forward half shared by the identity ops: same type, a view of the input."""

    __props__ = ()
    view_map = {0: 0}
    name = "identity"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(inputs[0]).view()]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = {inputs[0]}[...]"  # a view: never the input object itself, never a copy


class ZeroGrad(_GradientIdentity):
    """Identity whose gradient is zero; the input stays connected (``grad`` returns zeros, no error)."""

    name = "zero_grad"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [zeros_like(output_grads[0])]


class ConsiderConstant(ZeroGrad):
    """Theano's deprecated ``consider_constant(x)``: the same gradient as ``zero_grad``."""

    name = "consider_constant"


class DisconnectedGrad(_GradientIdentity):
    """Identity through which no gradient flows: ``grad`` treats the input as not connected to the cost."""

    name = "disconnected_grad"
    disconnects_gradient = True  # autodiff: the input is not connected through this node

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [None]


class UndefinedGrad(_GradientIdentity):
    """Identity whose gradient is undefined: asking ``grad`` for a variable behind it is an error."""

    name = "undefined_grad"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [grad_undefined(self, 0, "undefined_grad() marks it so")]


class _ScaledIdentity(_GradientIdentity):
    """The identity on its first input; the others (scalars) only shape its gradient."""

    def make_node(self, x: Any, *params: Any) -> Apply:
        x = as_tensor_variable(x)
        params = [as_tensor_variable(p) for p in params]
        for p in params:
            if p.ndim != 0:
                raise op_error(self, [x, p], "the bound or multiplier must be a scalar", GraphNdimError)
        return Apply(self, [x, *params], [x.type])


class GradClip(_ScaledIdentity):
    """Identity whose gradient is clipped elementwise to ``[lower, upper]`` (inputs ``x, lower, upper``)."""

    name = "grad_clip"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [clip(output_grads[0], node.inputs[1], node.inputs[2]), None, None]


class GradScale(_ScaledIdentity):
    """Identity whose gradient is multiplied by ``multiplier`` (inputs ``x, multiplier``)."""

    name = "grad_scale"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [mul(output_grads[0], node.inputs[1]), None]


def zero_grad(x: Any) -> Variable:
    """``x`` itself, with its gradient truncated to zero (Theano's ``theano.gradient.zero_grad``).

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dvector("x")
        >>> g = symrnn.grad((x * zero_grad(x)).sum(), x)   # d/dx of x * c, with c = x held constant
        >>> symrnn.function([x], g)([1.0, 2.0])
        array([1., 2.])
    """
    return ZeroGrad()(x)


def consider_constant(x: Any) -> Variable:
    """``x`` itself, with its gradient truncated to zero (Theano's deprecated spelling of :func:`zero_grad`).

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> symrnn.function([x], symrnn.grad(x ** 2 * consider_constant(x), x))(3.0)
        array(18.)
    """
    return ConsiderConstant()(x)


def disconnected_grad(x: Any) -> Variable:
    """``x`` itself, but no gradient flows back through it: the path counts as disconnected, so asking
    ``grad`` for a variable reached only through it is a ``DisconnectedInputError`` (as in Theano).

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> symrnn.function([x], symrnn.grad(x * disconnected_grad(x), x))(3.0)
        array(3.)
    """
    return DisconnectedGrad()(x)


def undefined_grad(x: Any) -> Variable:
    """``x`` itself, with an undefined gradient: ``grad`` through it raises an error naming the op.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> try:
        ...     symrnn.grad(undefined_grad(x) * 2, x)
        ... except TypeError as exc:
        ...     print("undefined" in str(exc))
        True
    """
    return UndefinedGrad()(x)


def grad_clip(x: Any, lower_bound: Any, upper_bound: Any) -> Variable:
    """``x`` itself, with the gradient that flows back through it clipped to ``[lower_bound, upper_bound]``
    (Theano's ``theano.gradient.grad_clip``).

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> symrnn.function([x], symrnn.grad(grad_clip(x, -1, 1) ** 2, x))(2.0)   # 2x = 4, clipped
        array(1.)
    """
    lower, upper = as_tensor_variable(lower_bound), as_tensor_variable(upper_bound)
    if isinstance(lower, Constant) and isinstance(upper, Constant) and float(lower.data) > float(upper.data):
        raise op_error("grad_clip", [as_tensor_variable(x)], f"the lower bound {float(lower.data)} is above the "
                                                             f"upper bound {float(upper.data)}", GraphShapeError)
    return GradClip()(x, lower, upper)


def grad_scale(x: Any, multiplier: Any) -> Variable:
    """``x`` itself, with the gradient that flows back through it multiplied by ``multiplier``
    (Theano's ``theano.gradient.grad_scale``; ``-1`` reverses it).

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x = T.dscalar("x")
        >>> symrnn.function([x], symrnn.grad(grad_scale(x ** 2, -0.5), x))(3.0)
        array(-3.)
    """
    return GradScale()(x, multiplier)


# --------------------------------------------------------------------------- specify_shape


class ShapeMismatchError(GraphShapeError, AssertionError):
    """A value's run-time shape differs from its ``specify_shape``.  Theano raises ``AssertionError``
    here; ``except ValueError`` (a wrong shape) catches it too."""


class SpecifyShape(Op):
    """``x`` with a known shape: the output's static shape holds the constant sizes, and the run-time
    shape is checked against all of them."""

    __props__ = ("hint",)
    view_map = {0: 0}
    name = "specify_shape"

    def __init__(self, hint: str = "") -> None:
        self.hint = hint  # what a mismatch means, in the words of the function that asked (nn.rnn's mask)

    def make_node(self, x: Any, *dims: Variable) -> Apply:
        x = as_tensor_variable(x)
        if len(dims) != x.ndim:
            raise op_error(self, [x], f"got {len(dims)} size(s) for a {x.ndim}-d variable; give one size per "
                                      f"axis", GraphNdimError)
        static = []
        for axis, (d, have) in enumerate(zip(dims, x.type.shape)):
            want = int(d.data) if isinstance(d, Constant) else None
            if want is not None and want < 0:
                raise op_error(self, [x], f"size {want} for axis {axis} is negative", GraphShapeError)
            if want is not None and have is not None and want != have:
                raise op_error(self, [x], f"axis {axis} has static size {have}, not {want}", GraphShapeError)
            static.append(want if want is not None else have)
        return Apply(self, [x, *dims], [TensorType(x.dtype, tuple(static))])

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        x, *dims = inputs
        _check_shape(node, np.shape(x), tuple(int(d) for d in dims))
        return [np.asarray(x).view()]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        sizes = [str(int(v.data)) if isinstance(v, Constant) else f"int({name})"
                 for v, name in zip(node.inputs[1:], inputs[1:])]
        want = f"({', '.join(sizes)}{',' if len(sizes) == 1 else ''})"
        once = ctx.once_per_loop(node.inputs)
        guard = f"{once} and " if once else ""
        check = ctx.bind(_check_shape, "check_shape")
        return (f"if {guard}xp.shape({inputs[0]}) != {want}:\n"
                f"    {check}({ctx.bind(node, 'node')}, xp.shape({inputs[0]}), {want})\n"
                f"{outputs[0]} = {inputs[0]}[...]")

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [output_grads[0]] + [None] * (len(node.inputs) - 1)


def _check_shape(node: Apply, have: tuple[int, ...], want: tuple[int, ...]) -> None:
    if tuple(have) != tuple(want):
        if node.op.hint:
            raise ShapeMismatchError(f"{node.op.hint}: {describe(node.inputs[0])} has shape {tuple(have)}, expected "
                                     f"{tuple(want)} (at {node.trace})")
        raise ShapeMismatchError(f"specify_shape: {describe(node.inputs[0])} has shape {tuple(have)} at run time, "
                                 f"but specify_shape says {tuple(want)} (at {node.trace}); fix the value's shape "
                                 f"or the shape given to specify_shape")


def specify_shape(x: Any, shape: Any, hint: str = "") -> Variable:
    """Theano's ``T.specify_shape``: ``x``, promised to have ``shape`` (ints, symbolic int scalars, or an int
    vector of static length).  Constant sizes become the output's static shape; every size is checked at
    run time with an error naming ``x`` and the line that called ``specify_shape`` (``hint``, if given, says
    what a mismatch means).

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> x = T.dmatrix("x")
        >>> y = specify_shape(x, (2, 3))
        >>> y.type
        float64(2, 3)
        >>> symrnn.function([x], y.sum())(np.ones((2, 3)))
        array(6.)
    """
    x = as_tensor_variable(x)
    return SpecifyShape(hint)(x, *_dims_of("specify_shape", shape))


__all__ = ["ZeroGrad", "ConsiderConstant", "DisconnectedGrad", "UndefinedGrad", "GradClip", "GradScale", "SpecifyShape",
           "ShapeMismatchError", "zero_grad", "consider_constant", "disconnected_grad", "undefined_grad", "grad_clip",
           "grad_scale", "specify_shape"]
