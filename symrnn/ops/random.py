"""Random numbers as pure ops: symrnn's counter-based streams and NumPy's legacy ``RandomState``.

Two generators live here, and one table of distributions serves both:

- :class:`RandomStreams` (symrnn's own, used by ``symrnn.nn`` dropout).  A draw
  is a pure function of ``(seed, draw id, counter)`` through NumPy's
  counter-based ``Philox`` generator: its key is ``(seed, draw id)`` and the
  call counter is the top word of its 256-bit counter, so each call reads its
  own block of 2**192 numbers.  The stream's whole state is ``[seed, counter]``, an int64
  shared vector whose *default update* adds one to the counter, so every call
  of a compiled function draws fresh numbers without the user listing the
  update (as Theano's default updates do).  Two draws in one graph have
  different ids, so they are independent; ``stream.seed(n)`` restarts every
  draw.  The state is two numbers however many draws there are, and a draw
  needs no state from the previous call, which is why symrnn prefers it.
- :class:`RandomStateDraw`, the op behind the Theano-compatible
  ``symrnn.tensor.shared_randomstreams.RandomStreams``.  Its state is NumPy's
  legacy ``RandomState`` (Mersenne Twister) packed into an int64 vector
  (:func:`pack_random_state`), and it returns the advanced state beside the
  sample, so the numbers are exactly those that Theano's documentation prints.

Distribution parameters (``low``/``high``, ``avg``/``std``, ``n``/``p``) may be
tensors of any shape that broadcasts to the drawn shape; with ``size=None`` the
drawn shape is the parameters' broadcast shape.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from symrnn.config import config
from symrnn.graph import (
    Apply,
    Constant,
    GraphShapeError,
    GraphTypeError,
    Op,
    SharedVariable,
    TensorType,
    Variable,
    as_tensor_variable,
    op_error,
)
from symrnn.ops.elemwise import cast
from symrnn.ops.shape import _as_int_scalar, _dims_of, _static_int

# --------------------------------------------------------------------------- the distributions


def _multinomial_rows(random: Callable[..., np.ndarray], n: Any, pvals: np.ndarray, shape: tuple) -> np.ndarray:
    """``n`` draws per row of ``pvals``, counted per category: with ``n=1`` each row is one-hot.

    A uniform ``u`` picks the first category whose cumulative probability exceeds it, so rows of
    ``pvals`` that do not sum to one are used as given (Theano's ``MultinomialFromUniform``).
    """
    pvals = np.broadcast_to(pvals, shape)
    cumulative = np.cumsum(pvals, axis=-1)
    n = int(n)
    u = random((n, *shape[:-1]))
    below = u[..., None] < cumulative                       # (n, rows..., K)
    hit = below.any(axis=-1, keepdims=True)
    first = np.arange(shape[-1]) == below.argmax(axis=-1)[..., None]
    return (first & hit).sum(axis=0)


def _legacy_integers(rng: np.random.RandomState, low: Any, high: Any, shape: tuple) -> np.ndarray:
    """Integers in ``[low, high]``, one ``randint`` call per element in C order, as Theano drew them."""
    low, high = np.broadcast_to(low, shape), np.broadcast_to(high, shape)
    out = np.empty(shape, dtype=np.int64)
    for index in np.ndindex(*shape):
        out[index] = rng.randint(low[index], high[index] + 1)
    return out


@dataclass(frozen=True)
class Distribution:
    """One row of the table: the parameters' names, and how each generator draws it at a given shape."""

    params: tuple[str, str]
    draw: Callable[[np.random.Generator, Any, Any, tuple], Any]
    legacy: Callable[[np.random.RandomState, Any, Any, tuple], Any] | None
    float_out: bool  # dtype=None gives a float at least as wide as floatX (else int64)


DISTRIBUTIONS: dict[str, Distribution] = {
    "uniform": Distribution(("low", "high"), lambda g, a, b, s: g.uniform(a, b, s),
                            lambda r, a, b, s: r.uniform(a, b, s), True),
    "normal": Distribution(("avg", "std"), lambda g, a, b, s: g.normal(a, b, s),
                           lambda r, a, b, s: r.normal(a, b, s), True),
    "binomial": Distribution(("n", "p"), lambda g, a, b, s: g.binomial(a, b, s),
                             lambda r, a, b, s: r.binomial(a, b, s), False),
    "random_integers": Distribution(("low", "high"), lambda g, a, b, s: g.integers(a, b, s, endpoint=True),
                                    _legacy_integers, False),
    "multinomial": Distribution(("n", "pvals"), lambda g, a, b, s: _multinomial_rows(g.random, a, b, s),
                                None, False),
}


def _plain(value: np.ndarray, dist: str, index: int) -> Any:
    """A 0-d parameter as a Python number (NumPy's scalar path), a larger one as the array itself."""
    value = np.asarray(value)
    if value.ndim:
        return value
    if dist == "random_integers" or (dist in ("binomial", "multinomial") and index == 0):
        return int(value)
    return float(value)


def draw_dtype(dist: str, dtype: Any, params: Sequence[Variable]) -> str:
    """The dtype of a draw: ``dtype`` if given; else floatX upcast with the (non-literal) float parameters, or int64.

    Example::

        >>> import symrnn.tensor as T
        >>> draw_dtype("uniform", None, [T.fvector(), as_tensor_variable(1.0)])
        'float64'
        >>> draw_dtype("binomial", None, [as_tensor_variable(1), T.vector()])
        'int64'
    """
    if dtype is not None and dtype != "floatX":
        return np.dtype(dtype).name
    if dtype == "floatX" or DISTRIBUTIONS[dist].float_out:
        typed = [p.dtype for p in params if not (isinstance(p, Constant) and getattr(p, "weak", False))]
        return np.result_type(config.floatX, *typed).name if dtype is None else config.floatX
    return "int64"


def _broadcast_static(op: Op, params: Sequence[Variable], names: Sequence[str],
                      shape: list[int | None] | None) -> tuple[int | None, ...]:
    """The drawn static shape: ``shape`` (refined by the parameters), or the parameters' broadcast shape."""
    if shape is None:
        shape = [1] * max(p.ndim for p in params)
        fixed = [False] * len(shape)  # True once an axis is known not to broadcast
        for p in params:
            for axis, d in zip(range(len(shape) - p.ndim, len(shape)), p.type.shape):
                if d == 1:
                    continue
                if d is None:
                    shape[axis] = None if not fixed[axis] else shape[axis]
                    continue
                if fixed[axis] and shape[axis] != d:
                    raise op_error(op, list(params), f"the parameters' shapes do not broadcast together (axis "
                                   f"{axis}: {shape[axis]} vs {d})", GraphShapeError)
                shape[axis], fixed[axis] = d, True
        return tuple(shape)
    shape = list(shape)
    for p, name in zip(params, names):
        if p.ndim > len(shape):
            raise op_error(op, list(params), f"{name} has {p.ndim} dimensions, more than the drawn shape "
                           f"{_show(shape)}; give a size with at least {p.ndim} dimensions", GraphShapeError)
        for axis, d in zip(range(len(shape) - p.ndim, len(shape)), p.type.shape):
            if d is None or d == 1:
                continue
            if shape[axis] is None:
                shape[axis] = d
            elif shape[axis] != d:
                raise op_error(op, list(params), f"{name} of shape {_show(p.type.shape)} does not broadcast to the "
                               f"drawn shape {_show(shape)}; give {name} 1 or {shape[axis]} on axis "
                               f"{axis - len(shape) + p.ndim}", GraphShapeError)
    return tuple(shape)


def _show(shape: Sequence[int | None]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _runtime_shape(op: Any, a: np.ndarray, b: np.ndarray, dims: Sequence[Any]) -> tuple[int, ...]:
    names = DISTRIBUTIONS[op.dist].params
    if op.auto_shape:
        try:
            return tuple(np.broadcast_shapes(np.shape(a), np.shape(b)))
        except ValueError:
            raise ValueError(f"{op}: {names[0]} of shape {np.shape(a)} and {names[1]} of shape {np.shape(b)} do "
                             f"not broadcast together") from None
    shape = tuple(int(d) for d in dims)
    for value, name in zip((a, b), names):
        got = np.shape(value)
        if len(got) > len(shape) or any(g not in (1, s) for g, s in zip(got[::-1], shape[::-1])):
            raise ValueError(f"{op}: {name} of shape {got} does not broadcast to the drawn shape {shape}")
    return shape


# --------------------------------------------------------------------------- symrnn's counter-based draws


_WORD = 0xFFFFFFFFFFFFFFFF


def _generator(state: Any, draw: int) -> np.random.Generator:
    """NumPy's counter-based ``Philox``: key ``(seed, draw id)``, the call counter as the counter's top word."""
    seed, counter = (int(v) for v in np.asarray(state))
    return np.random.Generator(np.random.Philox(key=[seed & _WORD, draw & _WORD], counter=[0, 0, 0, counter & _WORD]))


class RandomDraw(Op):
    """Samples of a distribution (``uniform``, ``normal``, ``binomial``, ``multinomial``) for a stream state.

    Inputs: the state ``[seed, counter]``, the two distribution parameters (any
    shapes that broadcast to the drawn shape), and one int scalar per drawn
    dimension (none when ``auto_shape``: the drawn shape is the parameters'
    broadcast shape).
    """

    __props__ = ("dist", "stream", "draw", "dtype", "auto_shape")
    n_state_outputs = 0

    def __init__(self, dist: str, stream: int, draw: int, dtype: str, auto_shape: bool = False) -> None:
        self.dist, self.stream, self.draw, self.dtype, self.auto_shape = dist, stream, draw, dtype, auto_shape

    def __str__(self) -> str:
        return f"random_{self.dist}"

    def _sample_node(self, state: Variable, a: Any, b: Any, dims: Sequence[Any]) -> tuple[list[Variable], TensorType]:
        names = DISTRIBUTIONS[self.dist].params
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        for p, name in zip((a, b), names):
            if np.dtype(p.dtype).kind not in "iuf":
                raise op_error(self, [a, b], f"{name} must be a real number tensor, got {p.type!r}")
        if self.dist == "multinomial" and (a.ndim != 0 or b.ndim == 0):
            raise op_error(self, [a, b], "n must be a scalar and pvals at least a vector (one row per draw)")
        if self.auto_shape:
            if dims:
                raise op_error(self, [a, b], "a draw with auto_shape takes no dimensions")
            shape = _broadcast_static(self, [a, b], names, None)
        else:
            dims = [_as_int_scalar(self, d, "each dimension") for d in dims]
            shape = _broadcast_static(self, [a, b], names, [_static_int(d) for d in dims])
        return [state, a, b, *dims], TensorType(self.dtype, shape)

    def make_node(self, state: Variable, a: Any, b: Any, *dims: Any) -> Apply:
        inputs, out_type = self._sample_node(state, a, b, dims)
        return Apply(self, inputs, [out_type])

    def _draw_from(self, gen: Any, a: Any, b: Any, dims: Sequence[Any], legacy: bool) -> np.ndarray:
        shape = _runtime_shape(self, a, b, dims)
        row = DISTRIBUTIONS[self.dist]
        how = row.legacy if legacy else row.draw
        assert how is not None, f"{self.dist} has no legacy RandomState form"
        out = how(gen, _plain(a, self.dist, 0), _plain(b, self.dist, 1), shape)
        return np.asarray(out, dtype=self.dtype).reshape(shape)

    def sample(self, state: Any, a: Any, b: Any, *dims: Any) -> np.ndarray:
        """The draw for one stream state (what both ``perform`` and the generated code call)."""
        return self._draw_from(_generator(state, self.draw), a, b, dims, legacy=False)

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return [self.sample(*inputs)]

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]} = {ctx.bind(self.sample, 'sample')}({', '.join(inputs)})"

    def grad(self, node: Apply, output_grads: list[Variable]) -> list[Any]:
        return [None] * len(node.inputs)


_streams = itertools.count()


class RandomStreams:
    """symrnn's seeded source of random tensors, fresh numbers on every call (counter-based; Theano's API).

    This is the generator ``symrnn.nn`` uses.  Its numbers are not Theano's:
    for those, use ``symrnn.tensor.shared_randomstreams.RandomStreams``, which
    runs NumPy's legacy ``RandomState`` as Theano did.  Here the whole state is
    ``[seed, counter]``, so a stream costs two numbers however many draws it
    has, any draw can be recomputed from the counter alone, and reseeding is
    one assignment.

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

    def _draw(self, dist: str, size: Any, a: Any, b: Any, dtype: Any, ndim: int | None = None) -> Variable:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        dims = None if size is None else _dims_of(f"random_{dist}", size)
        op = RandomDraw(dist, self._id, next(self._draws), draw_dtype(dist, dtype, [a, b]), dims is None)
        out = op(self.state, a, b, *(dims or []))
        if ndim is not None and out.ndim != ndim:
            raise op_error(op, [a, b], f"ndim={ndim} does not match the drawn shape's {out.ndim} dimensions")
        return out

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None) -> Variable:
        """Uniform samples in ``[low, high)`` of shape ``size`` (ints or symbolic scalars).

        ``low`` and ``high`` may be tensors that broadcast to ``size``; with
        ``size=None`` the shape is theirs.

        Example::

            >>> import symrnn, symrnn.tensor as T
            >>> high = T.vector("high")
            >>> f = symrnn.function([high], RandomStreams(1).uniform((2, 3), high=high))
            >>> bool((f([1.0, 2.0, 3.0]) < [1.0, 2.0, 3.0]).all())
            True
        """
        return self._draw("uniform", size, low, high, dtype, ndim)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None) -> Variable:
        """Normal samples of shape ``size`` (``avg`` and ``std`` may be tensors that broadcast to it).

        Example::

            >>> import symrnn
            >>> symrnn.function([], RandomStreams(1).normal((4,), avg=[0.0, 10.0, 20.0, 30.0], std=0.0))()
            array([ 0., 10., 20., 30.])
        """
        return self._draw("normal", size, avg, std, dtype, ndim)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64") -> Variable:
        """Binomial samples (``n`` trials, probability ``p``); a dropout mask is ``binomial(x.shape, p=keep)``.

        Example::

            >>> import symrnn, symrnn.tensor as T
            >>> keep = T.vector("keep")
            >>> f = symrnn.function([keep], RandomStreams(1).binomial((2, 3), p=keep))
            >>> f([0.0, 1.0, 0.0])
            array([[0, 1, 0],
                   [0, 1, 0]])
        """
        out = self._draw("binomial", size, n, p, "int64", ndim)
        if np.dtype(dtype if dtype != "floatX" else config.floatX).name != "int64":
            out = cast(out, dtype)
        return out

    def multinomial(self, n: Any = 1, pvals: Any = None, dtype: Any = "int64") -> Variable:
        """``n`` draws per row of ``pvals`` (last axis: the categories), counted per category.

        Example::

            >>> import symrnn
            >>> symrnn.function([], RandomStreams(1).multinomial(2, [[0.0, 1.0], [1.0, 0.0]]))()
            array([[0, 2],
                   [2, 0]])
        """
        out = self._draw("multinomial", None, n, pvals, "int64")
        if np.dtype(dtype if dtype != "floatX" else config.floatX).name != "int64":
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


# --------------------------------------------------------------------------- NumPy's legacy RandomState

#: Length of a packed ``RandomState``: 624 Mersenne Twister words, the position, the cached-Gaussian flag
#: and the cached Gaussian's float64 bits.
STATE_SIZE = 627


def pack_random_state(rng: np.random.RandomState) -> np.ndarray:
    """A legacy ``RandomState``'s whole state as an int64 vector of length ``STATE_SIZE`` (lossless).

    Example::

        >>> rng = np.random.RandomState(3)
        >>> again = unpack_random_state(pack_random_state(rng))
        >>> float(again.uniform()) == float(np.random.RandomState(3).uniform())
        True
    """
    if not isinstance(rng, np.random.RandomState):
        raise GraphTypeError(f"expected a numpy.random.RandomState, got {type(rng).__name__}")
    kind, keys, pos, has_gauss, gauss = rng.get_state(legacy=True)
    if kind != "MT19937":
        raise GraphTypeError(f"a RandomState with the {kind} bit generator cannot be packed; use MT19937")
    tail = np.array([pos, has_gauss], dtype=np.int64)
    return np.concatenate([keys.astype(np.int64), tail, np.array([gauss], dtype=np.float64).view(np.int64)])


def unpack_random_state(packed: Any) -> np.random.RandomState:
    """A new ``RandomState`` whose state is ``packed`` (the inverse of :func:`pack_random_state`)."""
    packed = np.asarray(packed)
    if packed.shape != (STATE_SIZE,) or packed.dtype != np.int64:
        raise GraphTypeError(f"a packed RandomState is an int64 vector of length {STATE_SIZE}, "
                             f"got {packed.dtype} {packed.shape}")
    rng = np.random.RandomState(0)
    gauss = float(packed[STATE_SIZE - 1:].view(np.float64)[0])
    rng.set_state(("MT19937", packed[:624].astype(np.uint32), int(packed[624]), int(packed[625]), gauss))
    return rng


class RandomStateDraw(RandomDraw):
    """Samples drawn with NumPy's legacy ``RandomState``, as Theano's ``RandomFunction`` did.

    Inputs: the packed state (:func:`pack_random_state`), the two parameters
    and the drawn dimensions.  Outputs: the advanced packed state (the
    stream's default update) and the sample.  The op is pure: it unpacks a
    fresh ``RandomState`` each time and never changes its input.
    """

    __props__ = ("dist", "dtype", "auto_shape")
    n_state_outputs = 1

    def __init__(self, dist: str, dtype: str, auto_shape: bool = False) -> None:
        if DISTRIBUTIONS[dist].legacy is None:
            raise GraphTypeError(f"RandomState draws have no {dist!r} distribution")
        super().__init__(dist, -1, -1, dtype, auto_shape)

    def __str__(self) -> str:
        return f"RandomFunction{{{self.dist}}}"

    def make_node(self, state: Variable, a: Any, b: Any, *dims: Any) -> Apply:
        state = as_tensor_variable(state)
        if state.dtype != "int64" or state.type.shape != (STATE_SIZE,):
            raise op_error(self, [state], f"the state must be a packed RandomState (int64, ({STATE_SIZE},))")
        inputs, out_type = self._sample_node(state, a, b, dims)
        return Apply(self, inputs, [TensorType("int64", (STATE_SIZE,)), out_type])

    def sample(self, state: Any, a: Any, b: Any, *dims: Any) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[override]
        """``(new state, draw)`` from the packed ``state``."""
        rng = unpack_random_state(state)
        out = self._draw_from(rng, a, b, dims, legacy=True)
        return pack_random_state(rng), out

    def perform(self, node: Apply, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return list(self.sample(*inputs))

    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> str:
        return f"{outputs[0]}, {outputs[1]} = {ctx.bind(self.sample, 'sample')}({', '.join(inputs)})"


__all__ = ["DISTRIBUTIONS", "STATE_SIZE", "RandomDraw", "RandomStateDraw", "RandomStreams", "draw_dtype",
           "pack_random_state", "unpack_random_state"]
