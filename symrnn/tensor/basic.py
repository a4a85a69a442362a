"""Turning Python values into graph variables, and the typed constructors (``T.matrix`` ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn.config import config
from symrnn.graph import Constant, GraphTypeError, SharedVariable, TensorType, Variable, user_line


def _resolve_dtype(dtype: Any) -> str:
    return config.floatX if dtype is None or dtype == "floatX" else np.dtype(dtype).name


def constant(value: Any, name: str | None = None, dtype: Any = None, ndim: int | None = None) -> Constant:
    """Make a constant variable.  Python floats (and float lists) become ``config.floatX``.

    Example::

        >>> import symrnn.tensor as T
        >>> T.constant(2.0).type, T.constant([1, 2], dtype="int32").type
        (float64(), int32(2,))
    """
    if isinstance(value, Variable):
        raise GraphTypeError(f"constant() needs a value, got the symbolic variable {value!r} (at {user_line()})")
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise GraphTypeError(f"constant {name or ''}: cannot make a numeric constant from {value!r} (at {user_line()})")
    if dtype is not None:
        arr = arr.astype(_resolve_dtype(dtype))
    elif arr.dtype == np.float64 and not isinstance(value, (np.ndarray, np.generic)):
        arr = arr.astype(config.floatX)
    if ndim is not None and arr.ndim != ndim:
        if arr.ndim > ndim:
            raise GraphTypeError(f"constant of shape {arr.shape} cannot have {ndim} dimensions (at {user_line()})")
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    return Constant(TensorType(arr.dtype, arr.shape), arr, name=name)


def as_tensor_variable(value: Any, name: str | None = None, ndim: int | None = None) -> Variable:
    """Return ``value`` as a graph variable: variables pass through, numbers become constants.

    A bare Python ``int``/``float``/``bool`` becomes a *weak* constant, whose dtype
    yields to the other operand's (``float32_x * 2.0`` stays float32), as in
    Theano's autocasting and NumPy 2's scalar promotion.

    Example::

        >>> import symrnn.tensor as T
        >>> T.as_tensor_variable([[1.0, 2.0]]).type
        float64(1, 2)
    """
    if isinstance(value, Variable):
        if ndim is not None and value.ndim != ndim:
            raise GraphTypeError(f"{value!r} has {value.ndim} dimension(s), expected {ndim} (at {user_line()})")
        return value
    if isinstance(value, (list, tuple)) and any(isinstance(v, Variable) for v in value):
        from symrnn.ops.shape import stack

        return stack([as_tensor_variable(v) for v in value])
    if isinstance(value, (bool, int, float)) and not isinstance(value, np.generic):
        if isinstance(value, bool):
            dtype = "bool"
        elif isinstance(value, int):
            dtype = "int64"
        else:
            dtype = config.floatX
        const = constant(np.asarray(value, dtype=dtype), name=name, ndim=ndim)
        const.weak = True
        return const
    return constant(value, name=name, ndim=ndim)


def shared(value: Any, name: str | None = None, borrow: bool = False,
           shape: Sequence[int | None] | None = None) -> SharedVariable:
    """A variable whose value lives between function calls (Theano's ``theano.shared``).

    Example::

        >>> import numpy as np, symrnn
        >>> W = symrnn.shared(np.zeros((3, 2)), name="W")
        >>> W.get_value().shape
        (3, 2)
    """
    return SharedVariable(value, name=name, borrow=borrow, shape=shape)


def tensor(dtype: Any = None, shape: Sequence[int | None] = (), name: str | None = None,
           broadcastable: Sequence[bool] | None = None) -> Variable:
    """A new input variable of the given dtype and static shape (``None`` = unknown).

    Example::

        >>> import symrnn.tensor as T
        >>> T.tensor("float32", (None, 3), name="x").type
        float32(?, 3)
    """
    if broadcastable is not None:  # Theano's spelling: True means a known 1
        shape = tuple(1 if b else None for b in broadcastable)
    return TensorType(_resolve_dtype(dtype), shape)(name)


def _constructor(ndim: int, fixed_dtype: str | None):
    def make(name: str | None = None, dtype: Any = None, shape: Sequence[int | None] | None = None) -> Variable:
        dt = fixed_dtype if fixed_dtype is not None else dtype
        dims = (None,) * ndim if shape is None else tuple(shape)
        if len(dims) != ndim:
            raise GraphTypeError(f"a {ndim}-d constructor got a shape of length {len(dims)}: {dims}")
        return tensor(dt, dims, name=name)

    return make


_KINDS = {"scalar": 0, "vector": 1, "matrix": 2, "row": 2, "col": 2, "tensor3": 3, "tensor4": 4}
_PREFIXES = {"": None, "b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64"}

scalar = _constructor(0, None)
vector = _constructor(1, None)
matrix = _constructor(2, None)
tensor3 = _constructor(3, None)
tensor4 = _constructor(4, None)
iscalar, ivector, imatrix, itensor3, itensor4 = (_constructor(n, "int32") for n in range(5))
lscalar, lvector, lmatrix, ltensor3, ltensor4 = (_constructor(n, "int64") for n in range(5))
fscalar, fvector, fmatrix, ftensor3, ftensor4 = (_constructor(n, "float32") for n in range(5))
dscalar, dvector, dmatrix, dtensor3, dtensor4 = (_constructor(n, "float64") for n in range(5))
bscalar, bvector, bmatrix = (_constructor(n, "int8") for n in range(3))
wscalar, wvector, wmatrix = (_constructor(n, "int16") for n in range(3))


def _plural(single: Any) -> Any:
    def make(*names: Any) -> list[Variable]:
        if len(names) == 1 and isinstance(names[0], int):  # Theano also accepts a count
            return [single() for _ in range(names[0])]
        return [single(name) for name in names]

    make.__doc__ = "Several variables at once, one per name (Theano's plural constructors: ``T.dmatrices('x', 'y')``)."
    return make


scalars, vectors, matrices, tensor3s, tensor4s = (_plural(c) for c in (scalar, vector, matrix, tensor3, tensor4))
iscalars, ivectors, imatrices = (_plural(c) for c in (iscalar, ivector, imatrix))
lscalars, lvectors, lmatrices = (_plural(c) for c in (lscalar, lvector, lmatrix))
fscalars, fvectors, fmatrices, ftensor3s = (_plural(c) for c in (fscalar, fvector, fmatrix, ftensor3))
dscalars, dvectors, dmatrices, dtensor3s = (_plural(c) for c in (dscalar, dvector, dmatrix, dtensor3))


def row(name: str | None = None, dtype: Any = None) -> Variable:
    """A matrix with one row (static shape ``(1, None)``), Theano's ``T.row``."""
    return tensor(dtype, (1, None), name=name)


def col(name: str | None = None, dtype: Any = None) -> Variable:
    """A matrix with one column (static shape ``(None, 1)``), Theano's ``T.col``."""
    return tensor(dtype, (None, 1), name=name)


__all__ = [
    "constant", "as_tensor_variable", "shared", "tensor", "row", "col",
    "scalar", "vector", "matrix", "tensor3", "tensor4",
    "iscalar", "ivector", "imatrix", "itensor3", "itensor4",
    "lscalar", "lvector", "lmatrix", "ltensor3", "ltensor4",
    "fscalar", "fvector", "fmatrix", "ftensor3", "ftensor4",
    "dscalar", "dvector", "dmatrix", "dtensor3", "dtensor4",
    "bscalar", "bvector", "bmatrix", "wscalar", "wvector", "wmatrix",
    "scalars", "vectors", "matrices", "tensor3s", "tensor4s", "iscalars", "ivectors", "imatrices",
    "lscalars", "lvectors", "lmatrices", "fscalars", "fvectors", "fmatrices", "ftensor3s",
    "dscalars", "dvectors", "dmatrices", "dtensor3s",
]
