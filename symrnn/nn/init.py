"""Seedable initializers: each returns a NumPy array to put in a shared variable.

``rng`` is an int seed, a ``numpy.random.Generator`` or ``None`` (a fresh,
unseeded generator).  ``dtype`` defaults to ``config.floatX``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from symrnn.config import config


def as_rng(rng: Any = None) -> np.random.Generator:
    """A NumPy Generator from a seed, a Generator or None.

    Example::

        >>> int(as_rng(0).integers(10)) == int(as_rng(0).integers(10))
        True
    """
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _dtype(dtype: Any) -> str:
    return config.floatX if dtype is None else np.dtype(dtype).name


def glorot_uniform(shape: Sequence[int], rng: Any = None, dtype: Any = None, gain: float = 1.0) -> np.ndarray:
    """Glorot/Xavier uniform: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Example::

        >>> w = glorot_uniform((4, 6), rng=0)
        >>> w.shape, bool(abs(w).max() <= (6 / 10) ** 0.5)
        ((4, 6), True)
    """
    fan_in, fan_out = (shape[0], shape[-1]) if len(shape) >= 2 else (shape[0], shape[0])
    limit = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return as_rng(rng).uniform(-limit, limit, size=tuple(shape)).astype(_dtype(dtype))


def orthogonal(shape: Sequence[int], rng: Any = None, dtype: Any = None, gain: float = 1.0) -> np.ndarray:
    """A (semi-)orthogonal matrix, the usual choice for recurrent weights (spectral radius ``gain``).

    Example::

        >>> q = orthogonal((5, 5), rng=0)
        >>> bool(np.allclose(q @ q.T, np.eye(5)))
        True
    """
    rows, cols = shape[0], int(np.prod(shape[1:]))
    a = as_rng(rng).normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # a uniform distribution over orthogonal matrices
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).reshape(tuple(shape)).astype(_dtype(dtype))


def zeros(shape: Sequence[int], dtype: Any = None) -> np.ndarray:
    """Zeros (biases)."""
    return np.zeros(tuple(shape), dtype=_dtype(dtype))


def constant(shape: Sequence[int], value: float, dtype: Any = None) -> np.ndarray:
    """A constant fill, e.g. a forget-gate bias of 1.0."""
    return np.full(tuple(shape), value, dtype=_dtype(dtype))


def uniform(shape: Sequence[int], scale: float = 0.05, rng: Any = None, dtype: Any = None) -> np.ndarray:
    """``U(-scale, scale)``."""
    return as_rng(rng).uniform(-scale, scale, size=tuple(shape)).astype(_dtype(dtype))


__all__ = ["as_rng", "glorot_uniform", "orthogonal", "zeros", "constant", "uniform"]
