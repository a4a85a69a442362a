"""The typed constructors (``T.matrix`` ...), ``shared``, and ``constant``/``as_tensor_variable`` from the graph
layer (where ops, a lower layer, reach them too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from symrnn.graph import (
    GraphTypeError,
    SharedVariable,
    TensorType,
    Variable,
    as_tensor_variable,
    constant,
    resolve_dtype,
)


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
    return TensorType(resolve_dtype(dtype), shape)(name)


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
