"""Random numbers as pure ops, and Theano's ``RandomStreams``.

A draw is a pure function of ``(seed, draw id, counter)``.  The stream's state
``[seed, counter]`` is an int64 shared vector whose *default update* adds one
to the counter, so every call of a compiled function that uses the stream draws
fresh numbers, without the user listing the update (as Theano's default
updates do).  Two draws in one graph have different ids, so they are
independent; ``stream.seed(n)`` restarts every draw from a new seed.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from symrnn.config import config
from symrnn.graph import Apply, GraphTypeError, Op, SharedVariable, TensorType, Variable, as_tensor_variable, op_error
from symrnn.ops.elemwise import cast
from symrnn.ops.shape import _as_int_scalar, _dims_of, _static_int


def _generator(state: Any, draw: int) -> np.random.Generator:
    seed, counter = (int(v) for v in np.asarray(state))
    return np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, draw, counter])


class RandomDraw(Op):
    """Samples of a distribution (``uniform``, ``normal`` or ``binomial``) for a given stream state."""

    __props__ = ("dist", "stream", "draw", "dtype")

    def __init__(self, dist: str, stream: int, draw: int, dtype: str) -> None:
        self.dist, self.stream, self.draw, self.dtype = dist, stream, draw, dtype

    def __str__(self) -> str:
        return f"random_{self.dist}"

    def make_node(self, state: Variable, a: Any, b: Any, *dims: Any) -> Apply:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        if a.ndim or b.ndim:
            raise op_error(self, [a, b], "the distribution parameters must be scalars")
        dims = [_as_int_scalar(self, d, "each dimension") for d in dims]
        shape = tuple(_static_int(d) for d in dims)
        return Apply(self, [state, a, b, *dims], [TensorType(self.dtype, shape)])

    def sample(self, state: Any, a: Any, b: Any, *dims: Any) -> np.ndarray:
        gen = _generator(state, self.draw)
        shape = tuple(int(d) for d in dims)
        if self.dist == "uniform":
            out = gen.uniform(float(a), float(b), size=shape)
        elif self.dist == "normal":
            out = gen.normal(float(a), float(b), size=shape)
        else:  # binomial with n trials a, probability b
            out = gen.binomial(int(a), float(b), size=shape)
        return np.asarray(out, dtype=self.dtype)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [self.sample(*inputs)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = {ctx.bind(self.sample, 'sample')}({', '.join(inputs)})"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [None] * len(node.inputs)


_streams = itertools.count()


class RandomStreams:
    """A seeded source of random tensors whose numbers change on every call (Theano's ``RandomStreams``).

    Example::

        >>> import symrnn
        >>> srng = RandomStreams(seed=42)
        >>> u = srng.uniform((2,))
        >>> f = symrnn.function([], u)
        >>> bool((f() != f()).all())    # the stream advances by itself
        True
    """

    def __init__(self, seed: int = 0) -> None:
        if not isinstance(seed, (int, np.integer)):
            raise GraphTypeError(f"RandomStreams: seed must be an int, got {seed!r}")
        self.state = SharedVariable(np.array([int(seed), 0], dtype="int64"), name="random_state", shape=(2,))
        self.state.default_update = self.state + np.array([0, 1], dtype="int64")
        self._id = next(_streams)
        self._draws = itertools.count()

    def _draw(self, dist: str, size: Any, a: Any, b: Any, dtype: Any) -> Variable:
        dtype = np.dtype(config.floatX if dtype is None or dtype == "floatX" else dtype).name
        op = RandomDraw(dist, self._id, next(self._draws), dtype)
        return op(self.state, a, b, *_dims_of(f"random_{dist}", size))

    def uniform(self, size: Any, low: float = 0.0, high: float = 1.0, dtype: Any = None) -> Variable:
        """Uniform samples in ``[low, high)`` of shape ``size`` (ints or symbolic scalars)."""
        return self._draw("uniform", size, low, high, dtype)

    def normal(self, size: Any, avg: float = 0.0, std: float = 1.0, dtype: Any = None) -> Variable:
        """Normal samples of shape ``size``."""
        return self._draw("normal", size, avg, std, dtype)

    def binomial(self, size: Any, n: int = 1, p: float = 0.5, dtype: Any = "int64") -> Variable:
        """Binomial samples (``n`` trials, probability ``p``); a dropout mask is ``binomial(size, p=keep)``."""
        out = self._draw("binomial", size, n, p, "int64")
        if dtype != "int64":
            out = cast(out, dtype)
        return out

    def seed(self, seed: int) -> None:
        """Restart every draw of this stream from ``seed`` (Theano's ``srng.seed(n)``)."""
        if not isinstance(seed, (int, np.integer)):
            raise GraphTypeError(f"RandomStreams.seed: the seed must be an int, got {seed!r}")
        self.state.set_value(np.array([int(seed), 0], dtype="int64"))

    def reset(self) -> None:
        """Start the stream over: the next call draws what the first call drew."""
        state = self.state.get_value()
        self.state.set_value(np.array([state[0], 0], dtype="int64"))


__all__ = ["RandomDraw", "RandomStreams"]
