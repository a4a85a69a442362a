"""Feed-forward layers: ``Dense`` (an affine map on the last axis) and ``Embedding`` (a lookup table).

Like the cells, a layer keeps its shared variables in an ordered dict
``.params`` (so optimizers and :func:`symrnn.nn.io.save_params` take the layer
itself) and is applied by calling it on a symbolic variable.

Example::

    >>> import symrnn, symrnn.tensor as T
    >>> embed, out = Embedding(100, 8, seed=0), Dense(8, 100, seed=1)
    >>> ids = T.imatrix("ids")              # (time, batch) token ids
    >>> logits = out(embed(ids))            # (time, batch, 100)
    >>> logits.ndim, [name.rsplit("/", 1)[1] for name in out.params]
    (3, ['W', 'b'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from symrnn.config import config
from symrnn.graph import FLOAT_DTYPES, INT_DTYPES, GraphShapeError, SharedVariable, Variable, op_error
from symrnn.nn import init
from symrnn.nn.naming import HasParams, Params, full_name
from symrnn.ops.blas import dot
from symrnn.ops.indexing import getitem
from symrnn.tensor.basic import as_tensor_variable, shared


def _positive(layer: str, what: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise TypeError(f"{layer}: {what} must be a positive int, got {value!r}")
    return int(value)


class Dense(HasParams):
    """``activation(x · W + b)`` on the last axis of ``x``, for inputs of any ``ndim >= 1``.

    ``W`` ``(input_size, output_size)`` starts Glorot/Xavier uniform (seeded by
    ``seed``), ``b`` ``(output_size,)`` at zeros; both are shared variables of
    ``config.floatX`` (or ``dtype``) in ``self.params``, named ``"<name>/W"`` and
    ``"<name>/b"`` (``name`` defaults to ``dense``, made unique: ``symrnn.nn.naming``).
    ``activation`` is any function of a variable (``T.tanh``,
    ``T.nnet.relu``, ...) or ``None`` for a linear layer.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> layer = Dense(3, 2, seed=0)
        >>> x = T.dtensor3("x")                 # (time, batch, 3)
        >>> y = layer(x)
        >>> symrnn.function([x], y)(np.ones((4, 5, 3))).shape
        (4, 5, 2)
    """

    def __init__(self, input_size: int, output_size: int, activation: Callable[[Variable], Variable] | None = None,
                 seed: Any = None, name: str | None = None, dtype: Any = None) -> None:
        self.input_size = _positive("Dense", "input_size", input_size)
        self.output_size = _positive("Dense", "output_size", output_size)
        if activation is not None and not callable(activation):
            raise TypeError(f"Dense: activation must be a function or None, got {activation!r}")
        self.activation = activation
        self.name = full_name(name, "dense")
        dtype = np.dtype(dtype or config.floatX).name
        rng = init.as_rng(seed)
        self.params = Params(self.name)
        for key, value in (("W", init.glorot_uniform((self.input_size, self.output_size), rng, dtype=dtype)),
                           ("b", init.zeros((self.output_size,), dtype=dtype))):
            self.params[f"{self.name}/{key}"] = shared(value, name=f"{self.name}/{key}", shape=value.shape)

    @property
    def W(self) -> SharedVariable:
        return self.params["W"]

    @property
    def b(self) -> SharedVariable:
        return self.params["b"]

    def __call__(self, x: Any) -> Variable:
        """Apply the layer to ``x`` of shape ``(..., input_size)``; the result is ``(..., output_size)``."""
        x = as_tensor_variable(x)
        where = f"Dense {self.name!r}"
        if x.ndim == 0:
            raise op_error(where, [x], f"needs an input of shape (..., {self.input_size}), got a scalar")
        if x.dtype not in FLOAT_DTYPES:
            raise op_error(where, [x], f"needs a float input, got {x.dtype} (for token ids use Embedding)")
        if x.type.shape[-1] not in (None, self.input_size):
            raise op_error(where, [x], f"the input's last axis has {x.type.shape[-1]} features, but the layer "
                                       f"expects input_size={self.input_size}", GraphShapeError)
        with self._in():
            y = dot(x, self.W) + self.b
            return y if self.activation is None else self.activation(y)

    def __repr__(self) -> str:
        return f"Dense(input_size={self.input_size}, output_size={self.output_size}, name={self.name!r})"


class Embedding(HasParams):
    """A lookup table: ``W[ids]`` maps integer ids of any shape to vectors, adding a last axis of size ``dim``.

    ``W`` ``(vocab_size, dim)`` starts uniform in ``[-0.05, 0.05]`` (Keras's
    default for embeddings: small enough that no token dominates at first),
    seeded by ``seed``, and is named ``"<name>/W"`` (``name`` defaults to
    ``embedding``, made unique).  Its gradient is a scatter-add, so an id that
    occurs several times in a batch accumulates all its gradients.  Ids must
    lie in ``[0, vocab_size)``: like NumPy indexing, a negative id counts from
    the end and a larger one is an ``IndexError`` at run time.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> emb = Embedding(10, 4, seed=0)
        >>> ids = T.ivector("ids")
        >>> vectors = symrnn.function([ids], emb(ids))(np.array([3, 3, 7], dtype="int32"))
        >>> vectors.shape, bool((vectors[0] == emb.W.get_value()[3]).all())
        ((3, 4), True)
    """

    def __init__(self, vocab_size: int, dim: int, seed: Any = None, name: str | None = None,
                 dtype: Any = None) -> None:
        self.vocab_size = _positive("Embedding", "vocab_size", vocab_size)
        self.dim = _positive("Embedding", "dim", dim)
        self.name = full_name(name, "embedding")
        value = init.uniform((self.vocab_size, self.dim), scale=0.05, rng=init.as_rng(seed),
                             dtype=np.dtype(dtype or config.floatX).name)
        self.params = Params(self.name, [(f"{self.name}/W", shared(value, name=f"{self.name}/W",
                                                                    shape=value.shape))])

    @property
    def W(self) -> SharedVariable:
        return self.params["W"]

    def __call__(self, ids: Any) -> Variable:
        """The vectors of ``ids`` (integers of any shape ``S``): shape ``S + (dim,)``."""
        ids = as_tensor_variable(ids)
        if ids.dtype not in INT_DTYPES:
            raise op_error(f"Embedding {self.name!r}", [ids], f"the ids must be integers, got {ids.dtype}")
        with self._in():
            return getitem(self.W, ids)

    def __repr__(self) -> str:
        return f"Embedding(vocab_size={self.vocab_size}, dim={self.dim}, name={self.name!r})"


__all__ = ["Dense", "Embedding"]
