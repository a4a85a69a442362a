"""Losses: mean squared error, softmax and sigmoid cross-entropies, and masked sequence losses.

Cross-entropies take *logits* (unnormalised scores) and are computed in the
stable forms (``log_softmax``, ``softplus``), so a confident wrong prediction
costs a large finite number, never ``inf`` or ``nan``.  Per-example losses keep
the example axes; :func:`mse`, :func:`masked_mse` and :func:`sequence_loss`
reduce to a scalar, ready for :func:`symrnn.grad`.

Example::

    >>> import numpy as np, symrnn, symrnn.tensor as T
    >>> logits, labels = T.dmatrix("logits"), T.ivector("labels")
    >>> loss = softmax_cross_entropy(logits, labels).mean()
    >>> f = symrnn.function([logits, labels], loss)
    >>> float(f([[0.0, 0.0], [0.0, 0.0]], [0, 1]).round(6))    # log(2)
    0.693147
"""

from __future__ import annotations

from typing import Any

from symrnn.graph import FLOAT_DTYPES, INT_DTYPES, GraphShapeError, Variable, op_error
from symrnn.ops.elemwise import cast, mul, neg, neq, softplus, sqr, sub, switch
from symrnn.ops.nnet import log_softmax
from symrnn.ops.reduce import sum as reduce_sum
from symrnn.ops.shape import arange, reshape, shape_i
from symrnn.tensor.basic import as_tensor_variable


def _float(fn: str, what: str, x: Variable, inputs: list[Variable]) -> None:
    if x.dtype not in FLOAT_DTYPES:
        raise op_error(fn, inputs, f"{what} must be a float tensor, got {x.dtype}")


def _same_static_shape(fn: str, a: Variable, b: Variable, what: str, inputs: list[Variable]) -> None:
    for axis, (x, y) in enumerate(zip(a.type.shape, b.type.shape)):
        if x is not None and y is not None and x != y:
            raise op_error(fn, inputs, f"{what} differ in size along axis {axis} ({x} vs {y})", GraphShapeError)


def _mask(fn: str, mask: Any, dtype: str, inputs: list[Variable]) -> Variable:
    if mask.dtype not in FLOAT_DTYPES | INT_DTYPES | {"bool"}:
        raise op_error(fn, inputs, f"the mask must hold numbers or booleans, got {mask.dtype}")
    return cast(mask, dtype)


def mse(prediction: Any, target: Any) -> Variable:
    """Mean squared error ``mean((prediction - target) ** 2)`` over every element, a scalar.

    Both must have the same number of dimensions: silently broadcasting a
    ``(B, 1)`` prediction against a ``(B,)`` target is a classic bug, so it is
    an error here.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> p, t = T.dvector("p"), T.dvector("t")
        >>> symrnn.function([p, t], mse(p, t))([1.0, 2.0], [1.0, 4.0])
        array(2.)
    """
    p, t = as_tensor_variable(prediction), as_tensor_variable(target)
    _float("mse", "the prediction", p, [p, t])
    if t.ndim != p.ndim:
        raise op_error("mse", [p, t], f"the prediction has {p.ndim} dimension(s) and the target {t.ndim}; "
                                      f"reshape one so that they match")
    _same_static_shape("mse", p, t, "the prediction and the target", [p, t])
    return sqr(sub(p, t)).mean()


def softmax_cross_entropy(logits: Any, labels: Any) -> Variable:
    """Per-example ``-log softmax(logits)[label]`` over the last axis, with integer labels.

    ``logits`` has at least two dimensions ``(..., C)``; ``labels`` holds
    integer class indices of shape ``logits.shape[:-1]``, which is also the
    shape of the result.  Computed with ``log_softmax``, so it is stable for
    logits of any size.  (Like NumPy indexing, a negative label counts from
    the end; a label ``>= C`` is an ``IndexError`` at run time.)

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> logits, labels = T.dtensor3("logits"), T.imatrix("labels")
        >>> ce = softmax_cross_entropy(logits, labels)
        >>> ce.ndim
        2
        >>> symrnn.function([logits, labels], ce)(np.zeros((2, 3, 4)), np.zeros((2, 3), "int32")).round(4)
        array([[1.3863, 1.3863, 1.3863],
               [1.3863, 1.3863, 1.3863]])
    """
    z, y = as_tensor_variable(logits), as_tensor_variable(labels)
    _float("softmax_cross_entropy", "the logits", z, [z, y])
    if z.ndim < 2:
        raise op_error("softmax_cross_entropy", [z, y], f"the logits need at least 2 dimensions (..., classes), "
                                                        f"got {z.ndim}")
    if y.dtype not in INT_DTYPES:
        raise op_error("softmax_cross_entropy", [z, y], f"the labels must be integer class indices, got "
                                                        f"{y.dtype} (for one-hot or soft targets use "
                                                        f"T.nnet.categorical_crossentropy)")
    if y.ndim != z.ndim - 1:
        raise op_error("softmax_cross_entropy", [z, y], f"the labels need {z.ndim - 1} dimension(s) (the logits' "
                                                        f"shape without the class axis), got {y.ndim}")
    _same_static_shape("softmax_cross_entropy", z, y, "the logits and the labels", [z, y])
    if z.ndim == 2:
        flat_z, flat_y = z, y
    else:
        flat_z = reshape(z, (-1, shape_i(z, -1)))
        flat_y = reshape(y, (-1,))
    losses = neg(log_softmax(flat_z)[arange(shape_i(flat_z, 0)), flat_y])
    if z.ndim == 2:
        return losses
    return reshape(losses, [shape_i(z, i) for i in range(z.ndim - 1)])


def sequence_loss(logits: Any, labels: Any, mask: Any) -> Variable:
    """Masked mean of the per-step softmax cross-entropy over a time-major batch, a scalar.

    ``logits`` is ``(T, B, C)``, ``labels`` an integer ``(T, B)`` and ``mask`` a
    ``(T, B)`` float or bool array that is 1 at real steps and 0 at padding
    (fractional weights work too).  The result is ``sum(mask * ce) / sum(mask)``
    (with ``1e-12`` added to the denominator, as TensorFlow's
    ``sequence_loss`` does, so an all-padding batch gives 0 rather than NaN).
    Padded steps contribute nothing, not even a NaN from garbage logits.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> z, y, m = T.dtensor3("z"), T.imatrix("y"), T.dmatrix("m")
        >>> f = symrnn.function([z, y, m], sequence_loss(z, y, m))
        >>> logits = np.zeros((2, 1, 2)); logits[1, 0] = [100.0, -100.0]   # step 2 is wrong but masked
        >>> float(f(logits, [[0], [1]], [[1.0], [0.0]]).round(6))
        0.693147
    """
    z, y, m = as_tensor_variable(logits), as_tensor_variable(labels), as_tensor_variable(mask)
    inputs = [z, y, m]
    _float("sequence_loss", "the logits", z, inputs)
    if z.ndim != 3 or y.ndim != 2 or m.ndim != 2:
        raise op_error("sequence_loss", inputs, f"expected time-major logits (T, B, C), labels (T, B) and mask "
                                                f"(T, B), got {z.ndim}, {y.ndim} and {m.ndim} dimensions")
    if y.dtype not in INT_DTYPES:
        raise op_error("sequence_loss", inputs, f"the labels must be integer class indices, got {y.dtype}")
    _same_static_shape("sequence_loss", z, m, "the logits and the mask", inputs)
    weights = _mask("sequence_loss", m, z.dtype, inputs)
    losses = softmax_cross_entropy(z, y)
    masked = switch(neq(weights, 0), mul(losses, weights), 0)
    return reduce_sum(masked) / (reduce_sum(weights) + 1e-12)


def masked_mse(prediction: Any, target: Any, mask: Any) -> Variable:
    """Mean squared error over the unmasked elements, a scalar.

    ``mask`` is aligned with the *leading* axes of ``prediction`` (for example
    ``(T, B)`` for a ``(T, B, D)`` prediction) and broadcasts over the rest; the
    result is ``sum(mask * (prediction - target) ** 2) / (sum(mask) * D)``, the
    mean over the real entries.  An all-zero mask gives 0.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> p, t, m = T.dmatrix("p"), T.dmatrix("t"), T.dvector("m")
        >>> f = symrnn.function([p, t, m], masked_mse(p, t, m))
        >>> f([[1.0, 3.0], [5.0, 5.0]], [[0.0, 0.0], [0.0, 0.0]], [1.0, 0.0])   # (1 + 9) / 2
        array(5.)
    """
    p, t, m = as_tensor_variable(prediction), as_tensor_variable(target), as_tensor_variable(mask)
    inputs = [p, t, m]
    _float("masked_mse", "the prediction", p, inputs)
    if t.ndim != p.ndim:
        raise op_error("masked_mse", inputs, f"the prediction has {p.ndim} dimension(s) and the target {t.ndim}")
    if not 1 <= m.ndim <= p.ndim:
        raise op_error("masked_mse", inputs, f"the mask must cover the leading axes of the prediction (1 to "
                                             f"{p.ndim} dimensions), got {m.ndim}")
    _same_static_shape("masked_mse", p, t, "the prediction and the target", inputs)
    _same_static_shape("masked_mse", p, m, "the prediction and the mask", inputs)
    weights = _mask("masked_mse", m, p.dtype, inputs)
    trailing = list(range(m.ndim, p.ndim))
    wide = weights.dimshuffle(*range(m.ndim), *["x"] * len(trailing)) if trailing else weights
    se = sqr(sub(p, t))
    masked = switch(neq(wide, 0), mul(se, wide), 0)
    count = reduce_sum(weights)
    for axis in trailing:
        count = count * cast(shape_i(p, axis), p.dtype)
    return reduce_sum(masked) / (count + 1e-12)


def binary_cross_entropy_with_logits(logits: Any, targets: Any) -> Variable:
    """Elementwise sigmoid cross-entropy ``-(t log σ(x) + (1 - t) log(1 - σ(x)))`` from logits ``x``.

    This is ``softplus(x) - x * t`` (TensorFlow's ``sigmoid_cross_entropy_with_logits``),
    evaluated as ``softplus(-x) + x * (1 - t)`` where ``x >= 0`` so that it is
    finite and accurate for logits of any size (a loss of ``1e-18`` is not
    rounded to 0), and its gradient is ``sigmoid(x) - t`` everywhere, ``x = 0``
    included.  Targets may be soft (in [0, 1]).  The result is elementwise.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x, t = T.dvector("x"), T.dvector("t")
        >>> symrnn.function([x, t], binary_cross_entropy_with_logits(x, t))([0.0, 100.0], [1.0, 0.0])
        array([  0.69314718, 100.        ])
    """
    x, t = as_tensor_variable(logits), as_tensor_variable(targets)
    _float("binary_cross_entropy_with_logits", "the logits", x, [x, t])
    if t.dtype not in FLOAT_DTYPES | INT_DTYPES | {"bool"}:
        raise op_error("binary_cross_entropy_with_logits", [x, t], f"the targets must be numbers in [0, 1], "
                                                                   f"got {t.dtype}")
    if t.ndim != x.ndim:
        raise op_error("binary_cross_entropy_with_logits", [x, t], f"the logits have {x.ndim} dimension(s) and "
                                                                   f"the targets {t.ndim}")
    _same_static_shape("binary_cross_entropy_with_logits", x, t, "the logits and the targets", [x, t])
    t = cast(t, x.dtype)
    positive = softplus(neg(x)) + mul(x, sub(1, t))  # = softplus(x) - x t, without rounding softplus(x) to x
    negative = sub(softplus(x), mul(x, t))
    return switch(x >= 0, positive, negative)


__all__ = ["mse", "softmax_cross_entropy", "sequence_loss", "masked_mse", "binary_cross_entropy_with_logits"]
