"""Theano's ``theano.sandbox.rng_mrg``: ``MRG_RandomStreams``.

Scripts that import ``MRG_RandomStreams`` run unchanged, with the same
distributions, shapes and dtypes, and numbers that change on every call.  The
numbers themselves differ from Theano's: Theano's MRG generator is L'Ecuyer's
MRG31k3p, run as many parallel substreams so that a GPU kernel could give each
thread its own; this class runs on symrnn's counter-based streams
(:class:`symrnn.ops.random.RandomStreams`, NumPy's PCG64 keyed by seed, draw
and call), which need no per-thread substreams and keep the whole state in two
numbers.  Theano's MRG numbers depend on its thread count (``nstreams``), so no
documentation or experiment could rely on them bit for bit anyway.  For
Theano's documented numbers use
``symrnn.tensor.shared_randomstreams.RandomStreams``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import GraphTypeError, SharedVariable, Variable, as_tensor_variable, user_line
from symrnn.ops.random import RandomStreams

M1, M2 = 2147483647, 2147462579  # MRG31k3p's two moduli; a Theano seed must be below them


def _seed_value(seed: Any) -> int:
    """A Theano MRG seed (one int, or six) as the int64 seed of a counter-based stream, checked as Theano did."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed == 0:
            raise ValueError(f"MRG_RandomStreams: the seed should not be 0 (at {user_line()})")
        if not 0 < seed < M2:
            raise ValueError(f"MRG_RandomStreams: the seed should be in [1, {M2}), got {seed} (at {user_line()})")
        return int(seed)
    if isinstance(seed, (list, tuple, np.ndarray)) and len(seed) == 6:
        parts = [int(s) for s in seed]
        if not any(parts[:3]) or not any(parts[3:]):
            raise ValueError(f"MRG_RandomStreams: neither the first nor the last 3 seed values may be all 0, "
                             f"got {parts} (at {user_line()})")
        if any(not 0 <= s < M1 for s in parts[:3]) or any(not 0 <= s < M2 for s in parts[3:]):
            raise ValueError(f"MRG_RandomStreams: seed values must be below {M1} (first 3) and {M2} (last 3), "
                             f"got {parts} (at {user_line()})")
        return int(np.random.SeedSequence(parts).generate_state(1, np.uint64)[0].astype(np.int64))
    raise GraphTypeError(f"MRG_RandomStreams: the seed should be 1 integer or 6 integers, got {seed!r} "
                         f"(at {user_line()})")


class MRG_RandomStreams:  # noqa: N801 (Theano's name)
    """Theano's ``MRG_RandomStreams`` API over symrnn's counter-based generator (numbers differ from Theano's).

    Example::

        >>> import symrnn
        >>> srng = MRG_RandomStreams(seed=234)
        >>> f = symrnn.function([], srng.uniform((2, 2)))
        >>> a, b = f(), f()
        >>> bool((a != b).all()), bool(((0 <= a) & (a < 1)).all())
        (True, True)
    """

    def __init__(self, seed: Any = 12345) -> None:
        self.default_instance_seed = seed
        self._streams = RandomStreams(_seed_value(seed))
        self.rstate = np.asarray([seed] * 6 if np.ndim(seed) == 0 else seed, dtype="int64")
        self.state_updates: list[tuple[SharedVariable, Variable]] = []

    @property
    def state(self) -> SharedVariable:
        """The shared ``[seed, counter]`` vector of every draw of this stream."""
        return self._streams.state

    def updates(self) -> list[tuple[SharedVariable, Variable]]:
        """The ``(state, new state)`` pair of this stream once it has drawn (for ``function(updates=...)``)."""
        return list(self.state_updates)

    def seed(self, seed: Any = None) -> None:
        """Restart every draw from ``seed`` (``None``: the constructor's seed)."""
        if seed is None:
            seed = self.default_instance_seed
        self._streams.seed(_seed_value(seed))
        self.rstate = np.asarray([seed] * 6 if np.ndim(seed) == 0 else seed, dtype="int64")

    def _record(self, out: Variable) -> Variable:
        state = self._streams.state
        if not self.state_updates:
            self.state_updates.append((state, state.default_update))
        out.rstate = state
        out.update = self.state_updates[0]
        return out

    def uniform(self, size: Any, low: Any = 0.0, high: Any = 1.0, ndim: int | None = None, dtype: Any = None,
                nstreams: Any = None) -> Variable:
        """Uniform samples in ``[low, high)`` of shape ``size`` (``nstreams`` is accepted and unused).

        Example::

            >>> import symrnn
            >>> symrnn.function([], MRG_RandomStreams(1).uniform((3,), low=2.0, high=2.0))()
            array([2., 2., 2.])
        """
        return self._record(self._streams.uniform(size, low, high, ndim, dtype))

    def normal(self, size: Any, avg: Any = 0.0, std: Any = 1.0, ndim: int | None = None, dtype: Any = None,
               nstreams: Any = None) -> Variable:
        """Normal samples of shape ``size`` (``nstreams`` is accepted and unused).

        Example::

            >>> import symrnn
            >>> symrnn.function([], MRG_RandomStreams(1).normal((2,), avg=[1.0, -1.0], std=0.0))()
            array([ 1., -1.])
        """
        return self._record(self._streams.normal(size, avg, std, ndim, dtype))

    def binomial(self, size: Any = None, n: Any = 1, p: Any = 0.5, ndim: int | None = None, dtype: Any = "int64",
                 nstreams: Any = None) -> Variable:
        """Binomial samples; ``p`` may be a tensor that broadcasts to ``size`` (a dropout mask).

        Example::

            >>> import symrnn
            >>> symrnn.function([], MRG_RandomStreams(1).binomial((2, 2), p=[1.0, 0.0], dtype="float64"))()
            array([[1., 0.],
                   [1., 0.]])
        """
        return self._record(self._streams.binomial(size, n, p, ndim, dtype))

    def multinomial(self, size: Any = None, n: Any = 1, pvals: Any = None, ndim: int | None = None,
                    dtype: Any = "int64", nstreams: Any = None) -> Variable:
        """``n`` draws per row of the matrix ``pvals``, counted per column: one-hot rows for ``n=1``.

        As in Theano, ``size`` and ``ndim`` must be left out, and ``pvals`` is used
        as given (a row that sums to less than one may draw nothing).

        Example::

            >>> import symrnn
            >>> f = symrnn.function([], MRG_RandomStreams(1).multinomial(pvals=[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
            >>> f()
            array([[0, 1, 0],
                   [1, 0, 0]])
        """
        where = f"(at {user_line()})"
        if pvals is None:
            raise GraphTypeError(f"MRG_RandomStreams.multinomial: give pvals, one row of probabilities per draw "
                                 f"{where}")
        if size is not None or ndim is not None:
            raise ValueError(f"MRG_RandomStreams.multinomial takes no size or ndim: the shape is pvals' {where}")
        pvals = as_tensor_variable(pvals)
        if pvals.ndim != 2:
            raise NotImplementedError(f"MRG_RandomStreams.multinomial needs pvals to be a matrix (one row per draw), "
                                      f"got {pvals.type!r} {where}")
        return self._record(self._streams.multinomial(n, pvals, dtype))

    def __repr__(self) -> str:
        return f"<symrnn MRG_RandomStreams seed={self.default_instance_seed}>"


__all__ = ["MRG_RandomStreams"]
