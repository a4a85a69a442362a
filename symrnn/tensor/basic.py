"""The typed constructors (``T.matrix`` ...), ``shared``, and ``constant``/``as_tensor_variable`` from the graph
layer (where ops, a lower layer, reach them too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn import graph
from symrnn.graph import (
    GraphTypeError,
    SharedVariable,
    Variable,
    as_tensor_variable,
    constant,
    resolve_dtype,
    user_line,
)


def static_shape(pattern: Sequence[Any]) -> tuple[int | None, ...]:
    """A static shape from symrnn's spelling (ints and ``None``) or Theano's broadcastable pattern (bools:
    ``True`` is a known 1, ``False`` unknown).

    Example::

        >>> static_shape((False, True)), static_shape((None, 3))
        ((None, 1), (None, 3))
    """
    entries = list(pattern)
    flags = [isinstance(e, (bool, np.bool_)) for e in entries]
    if entries and all(flags):
        return tuple(1 if e else None for e in entries)
    if any(flags):
        raise GraphTypeError(f"a shape is either a broadcastable pattern (all bools, as Theano's) or a static "
                             f"shape (ints and None), not a mix: {tuple(entries)!r} (at {user_line()})")
    return tuple(entries)


class _TensorTypeFace(type):
    """Makes every graph type an instance of ``T.TensorType``, so ``isinstance(x.type, T.TensorType)`` holds."""

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, graph.TensorType)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, graph.TensorType)


class TensorType(graph.TensorType, metaclass=_TensorTypeFace):
    """Theano's ``TensorType(dtype, broadcastable)``: the second argument is a broadcastable pattern
    (``(False, True)``) or a static shape (``(None, 1)``); either way the result is symrnn's graph type.
    ``dtype="floatX"`` means ``config.floatX``; Theano's ``name`` and ``sparse_grad`` are accepted and unused.

    Example::

        >>> import symrnn.tensor as T
        >>> col = T.TensorType("float64", (False, True))
        >>> col, col == T.TensorType("float64", (None, 1)), isinstance(T.matrix().type, T.TensorType)
        (float64(?, 1), True, True)
        >>> col("x").broadcastable
        (False, True)
    """

    __slots__ = ()

    def __new__(cls, dtype: Any, broadcastable: Sequence[Any] | None = None, name: str | None = None,
                sparse_grad: bool = False, shape: Sequence[int | None] | None = None) -> graph.TensorType:
        if (broadcastable is None) == (shape is None):
            raise GraphTypeError(f"TensorType needs a broadcastable pattern or a shape, exactly one of them "
                                 f"(at {user_line()})")
        pattern = broadcastable if broadcastable is not None else shape
        return graph.TensorType(resolve_dtype(dtype), static_shape(pattern))  # type: ignore[arg-type]


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
    return graph.TensorType(resolve_dtype(dtype), static_shape(shape))(name)


def _constructor(ndim: int, fixed_dtype: str | None):
    def make(name: str | None = None, dtype: Any = None, shape: Sequence[int | None] | None = None) -> Variable:
        dt = fixed_dtype if fixed_dtype is not None else dtype
        dims = (None,) * ndim if shape is None else tuple(shape)
        if len(dims) != ndim:
            raise GraphTypeError(f"a {ndim}-d constructor got a shape of length {len(dims)}: {dims}")
        return tensor(dt, dims, name=name)

    return make


class TypedConstructor(graph.TensorType):
    """Theano's typed constructors (``T.dmatrix``, ``T.iscalar``, ``T.frow`` ...) are tensor types: calling
    one makes a variable of that very type (``T.dscalar("x").type is T.dscalar``); ``shape=`` gives a
    static shape instead, with the same number of dimensions.

    Example::

        >>> import symrnn.tensor as T
        >>> x = T.dmatrix("x")
        >>> x.type is T.dmatrix, T.dmatrix == T.TensorType("float64", (False, False)), T.frow.broadcastable
        (True, True, (True, False))
        >>> T.ivector("n", shape=(3,)).type
        int32(3,)
    """

    __slots__ = ()

    def __call__(self, name: str | None = None, dtype: Any = None,  # type: ignore[override]
                 shape: Sequence[int | None] | None = None) -> Variable:
        if dtype is not None and resolve_dtype(dtype) != self.dtype:
            raise GraphTypeError(f"a {self.dtype} constructor was given dtype={dtype!r}; use T.tensor for "
                                 f"another dtype (at {user_line()})")
        if shape is None:
            return Variable(self, name=name)
        return _constructor(self.ndim, self.dtype)(name, shape=shape)


#: The static shape of each kind of typed constructor (Theano's broadcastable patterns).
_KINDS = {"scalar": (), "vector": (None,), "matrix": (None, None), "row": (1, None), "col": (None, 1),
          "tensor3": (None,) * 3, "tensor4": (None,) * 4, "tensor5": (None,) * 5, "tensor6": (None,) * 6,
          "tensor7": (None,) * 7}
#: Theano's dtype prefixes.
_PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64", "c": "complex64",
             "z": "complex128"}


def _typed(prefix: str) -> list[TypedConstructor]:
    return [TypedConstructor(_PREFIXES[prefix], shape) for shape in _KINDS.values()]


scalar, vector, matrix = _constructor(0, None), _constructor(1, None), _constructor(2, None)
tensor3, tensor4, tensor5, tensor6, tensor7 = (_constructor(n, None) for n in range(3, 8))
bscalar, bvector, bmatrix, brow, bcol, btensor3, btensor4, btensor5, btensor6, btensor7 = _typed("b")
wscalar, wvector, wmatrix, wrow, wcol, wtensor3, wtensor4, wtensor5, wtensor6, wtensor7 = _typed("w")
iscalar, ivector, imatrix, irow, icol, itensor3, itensor4, itensor5, itensor6, itensor7 = _typed("i")
lscalar, lvector, lmatrix, lrow, lcol, ltensor3, ltensor4, ltensor5, ltensor6, ltensor7 = _typed("l")
fscalar, fvector, fmatrix, frow, fcol, ftensor3, ftensor4, ftensor5, ftensor6, ftensor7 = _typed("f")
dscalar, dvector, dmatrix, drow, dcol, dtensor3, dtensor4, dtensor5, dtensor6, dtensor7 = _typed("d")
cscalar, cvector, cmatrix, crow, ccol, ctensor3, ctensor4, ctensor5, ctensor6, ctensor7 = _typed("c")
zscalar, zvector, zmatrix, zrow, zcol, ztensor3, ztensor4, ztensor5, ztensor6, ztensor7 = _typed("z")


def _plural(single: Any) -> Any:
    def make(*names: Any) -> Any:
        if names and isinstance(names[0], (int, np.integer)):  # a count: unnamed variables
            return [single() for _ in range(names[0])]
        if len(names) == 1:  # one argument: a string of one-letter names ('xyz'), or a list of names
            names = names[0]
        if len(names) == 1:  # Theano's rule: a single one-letter name gives the variable itself, not a list
            return single(names if isinstance(names, str) else names[0])
        return [single(name) for name in names]

    make.__doc__ = (
        "Several variables at once (Theano's plural constructors): one per name (``T.dmatrices('x', 'y')``),\n"
        "one per letter of a single string (``T.scalars('xyz')``), or a count of unnamed ones (``T.scalars(3)``).\n\n"
        "Example::\n\n"
        "    >>> import symrnn.tensor as T\n"
        "    >>> [v.name for v in T.scalars('xyz')], [v.name for v in T.dmatrices('ab', 'c')]\n"
        "    (['x', 'y', 'z'], ['ab', 'c'])\n"
    )
    return make


def row(name: str | None = None, dtype: Any = None) -> Variable:
    """A matrix with one row (static shape ``(1, None)``), Theano's ``T.row``."""
    return tensor(dtype, (1, None), name=name)


def col(name: str | None = None, dtype: Any = None) -> Variable:
    """A matrix with one column (static shape ``(None, 1)``), Theano's ``T.col``."""
    return tensor(dtype, (None, 1), name=name)


# Theano's plurals (theano/tensor/basic.py): the floatX ones and the f, d, i and l families.
scalars, vectors, matrices, rows, cols, tensor3s, tensor4s, tensor5s, tensor6s, tensor7s = (
    _plural(c) for c in (scalar, vector, matrix, row, col, tensor3, tensor4, tensor5, tensor6, tensor7))
fscalars, fvectors, fmatrices, frows, fcols, ftensor3s, ftensor4s, ftensor5s, ftensor6s, ftensor7s = (
    _plural(c) for c in (fscalar, fvector, fmatrix, frow, fcol, ftensor3, ftensor4, ftensor5, ftensor6, ftensor7))
dscalars, dvectors, dmatrices, drows, dcols, dtensor3s, dtensor4s, dtensor5s, dtensor6s, dtensor7s = (
    _plural(c) for c in (dscalar, dvector, dmatrix, drow, dcol, dtensor3, dtensor4, dtensor5, dtensor6, dtensor7))
iscalars, ivectors, imatrices, irows, icols, itensor3s, itensor4s, itensor5s, itensor6s, itensor7s = (
    _plural(c) for c in (iscalar, ivector, imatrix, irow, icol, itensor3, itensor4, itensor5, itensor6, itensor7))
lscalars, lvectors, lmatrices, lrows, lcols, ltensor3s, ltensor4s, ltensor5s, ltensor6s, ltensor7s = (
    _plural(c) for c in (lscalar, lvector, lmatrix, lrow, lcol, ltensor3, ltensor4, ltensor5, ltensor6, ltensor7))


_PLURAL_KINDS = ("scalars", "vectors", "matrices", "rows", "cols", "tensor3s", "tensor4s", "tensor5s", "tensor6s",
                 "tensor7s")

__all__ = [
    "constant", "as_tensor_variable", "shared", "tensor", "row", "col", "TensorType", "TypedConstructor",
    "static_shape", "scalar", "vector", "matrix", "tensor3", "tensor4", "tensor5", "tensor6", "tensor7",
    *(prefix + kind for prefix in _PREFIXES for kind in _KINDS),
    *(prefix + kind for prefix in ("", "f", "d", "i", "l") for kind in _PLURAL_KINDS),
]
