"""Theano's ``theano.tensor.shared_randomstreams``: ``RandomStreams`` with Theano's own numbers.

This ``RandomStreams`` draws exactly what Theano's did, so that the numbers
printed in Theano's documentation and in old experiments come out again.  Like
Theano's, it keeps a ``numpy.random.RandomState(seed)`` that makes one seed,
``randint(2**30)``, for each random variable; every variable gets its own
``RandomState`` in a shared variable (``rv.rng``), and each call of a function
that uses the variable advances that generator (its default update).  Draws are
NumPy's legacy ones: ``uniform(low, high, size)``, ``normal(avg, std, size)``,
``binomial(n, p, size)``, cast to the variable's dtype.

The state of a generator is held in the graph as an int64 vector (NumPy's
``RandomState.get_state()``, packed losslessly; see
:func:`symrnn.ops.random.pack_random_state`), so compiled code, the reference
interpreter and the optimizer treat it as any other array.  ``rv.rng.get_value()``
still gives a ``numpy.random.RandomState`` and ``set_value`` takes one.

New code that needs no compatibility with Theano's numbers can use
:class:`symrnn.ops.random.RandomStreams` (what ``symrnn.nn`` uses): its state
is two numbers for any number of draws, where this one keeps 5 kB of Mersenne
Twister state per random variable and rebuilds a ``RandomState`` at each draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import GraphTypeError, SharedVariable, Variable, as_tensor_variable, op_error, user_line
from symrnn.ops.random import STATE_SIZE, RandomStateDraw, draw_dtype, pack_random_state, unpack_random_state
from symrnn.ops.shape import _dims_of


class RandomStateSharedVariable(SharedVariable):
    """A shared ``numpy.random.RandomState`` (Theano's ``rv.rng``), held in the graph as a packed int64 vector.

    ``get_value()`` returns a new ``RandomState`` in the current state (also with
    ``borrow=True``: changing it changes nothing until you ``set_value`` it back,
    which is what Theano's tutorial does); ``set_value`` takes a ``RandomState``
    or a packed vector.

    Example::

        >>> rng = RandomStateSharedVariable(np.random.RandomState(5))
        >>> float(rng.get_value().uniform()) == float(np.random.RandomState(5).uniform())
        True
    """

    def __init__(self, value: np.random.RandomState, name: str | None = None) -> None:
        super().__init__(pack_random_state(value), name=name, borrow=True, shape=(STATE_SIZE,))

    def get_value(self, borrow: bool = False) -> np.random.RandomState:  # type: ignore[override]
        """A ``numpy.random.RandomState`` in this variable's current state."""
        return unpack_random_state(np.asarray(self.container[0]))

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Make ``value`` (a ``RandomState``, or a packed int64 vector) the current state."""
        if isinstance(value, np.random.RandomState):
            value = pack_random_state(value)
        else:
            unpack_random_state(value)  # a clear error for anything that is not a packed state
        super().set_value(value, borrow=False)


class RandomStreams:
    """Random variables with Theano's ``RandomStreams`` numbers (NumPy's legacy ``RandomState``).

    Example (the numbers of Theano's tutorial, "Copying Random State Between Theano Graphs")::

        >>> import symrnn
        >>> f1 = symrnn.function([], RandomStreams(seed=123).uniform(size=(1,)))
        >>> f1(), f1()
        (array([0.72803009]), array([0.59044123]))
    """

    def __init__(self, seed: int | None = None) -> None:
        _check_seed(seed)
        self.state_updates: list[tuple[RandomStateSharedVariable, Variable]] = []
        self.default_instance_seed = seed
        self.gen_seedgen = np.random.RandomState(seed)

    def updates(self) -> list[tuple[RandomStateSharedVariable, Variable]]:
        """The ``(rng, new rng)`` pair of every random variable made so far (for ``function(updates=...)``)."""
        return list(self.state_updates)

    def seed(self, seed: int | None = None) -> None:
        """Reseed every random variable made so far, each from ``RandomState(seed).randint(2**30)`` in turn.

        ``None`` means the seed given to the constructor.
        """
        _check_seed(seed)
        if seed is None:
            seed = self.default_instance_seed
        seeds = np.random.RandomState(seed)
        for rng, _ in self.state_updates:
            rng.set_value(np.random.RandomState(int(seeds.randint(2**30))))

    def __getitem__(self, item: RandomStateSharedVariable) -> np.random.RandomState:
        return item.get_value(borrow=True)

    def __setitem__(self, item: RandomStateSharedVariable, value: np.random.RandomState) -> None:
        item.set_value(value, borrow=True)

    def _gen(self, dist: str, size: Any, a: Any, b: Any, ndim: int | None, dtype: Any) -> Variable:
        a, b = as_tensor_variable(a), as_tensor_variable(b)
        dims = None if size is None else _dims_of(f"RandomStreams.{dist}", size)
        op = RandomStateDraw(dist, draw_dtype(dist, dtype, [a, b]), dims is None)
        if size is None and a.ndim == 0 and b.ndim == 0 and ndim:
            raise op_error(op, [a, b], "with size=None the shape comes from the parameters; give a size "
                           f"for a draw of {ndim} dimensions")
        rng = RandomStateSharedVariable(np.random.RandomState(int(self.gen_seedgen.randint(2**30))))
        new_rng, out = op(rng, a, b, *(dims or []))
        if ndim is not None and out.ndim != ndim:
            raise op_error(op, [a, b], f"ndim={ndim} does not match the {out.ndim} dimensions of the draw")
        out.rng = rng
        out.update = (rng, new_rng)
        rng.default_update = new_rng
        self.state_updates.append(out.update)
        return out

    def uniform(self, size: Any = None, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None,
                dtype: Any = None) -> Variable:
        """Uniform samples in ``[low, high)``; ``low``/``high`` may be tensors that broadcast to ``size``.

        Example::

            >>> import symrnn
            >>> u = RandomStreams(seed=987).uniform(size=(1,))
            >>> symrnn.function([], u)()
            array([0.55056769])
        """
        return self._gen("uniform", size, low, high, ndim, dtype)

    def normal(self, size: Any = None, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None,
               dtype: Any = None) -> Variable:
        """Normal samples; ``avg``/``std`` may be tensors that broadcast to ``size``.

        Example::

            >>> import symrnn
            >>> n = RandomStreams(seed=1).normal((2,), avg=[0.0, 100.0], std=0.0)
            >>> symrnn.function([], n)()
            array([  0., 100.])
        """
        return self._gen("normal", size, avg, std, ndim, dtype)

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None,
                 dtype: Any = "int64") -> Variable:
        """Numbers of successes in ``n`` trials of probability ``p`` (tensors that broadcast to ``size``).

        Example::

            >>> import symrnn, symrnn.tensor as T
            >>> keep = T.vector("keep")
            >>> mask = RandomStreams(seed=1).binomial((2, 3), p=keep)
            >>> symrnn.function([keep], mask)([1.0, 0.0, 1.0])
            array([[1, 0, 1],
                   [1, 0, 1]])
        """
        return self._gen("binomial", size, n, p, ndim, dtype)

    def random_integers(self, size: Any = None, low: Any = 0, high: Any = 1, ndim: int | None = None,
                        dtype: Any = "int64") -> Variable:
        """Integers in ``[low, high]``, both included.

        Example::

            >>> import symrnn
            >>> d = symrnn.function([], RandomStreams(seed=2).random_integers((5,), low=3, high=3))()
            >>> d.tolist()
            [3, 3, 3, 3, 3]
        """
        return self._gen("random_integers", size, low, high, ndim, dtype)

    def __repr__(self) -> str:
        return f"<symrnn RandomStreams (Theano's numbers) seed={self.default_instance_seed}>"


def _check_seed(seed: Any) -> None:
    if seed is not None and not isinstance(seed, (int, np.integer)):
        raise GraphTypeError(f"RandomStreams: the seed must be an int or None, got {seed!r} (at {user_line()})")


__all__ = ["RandomStateSharedVariable", "RandomStreams"]
