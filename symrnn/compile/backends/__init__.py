"""Backends: where compiled code runs.  ``"numpy"`` (the host, the default), ``"cupy"`` (an NVIDIA GPU) or
``"jax"`` (``jax.numpy`` under ``jax.jit``: CPU, GPU, TPU, and many devices through JAX's sharding).

``function(..., backend=...)`` picks one by name; without it, ``config.device``
decides (``"cpu"``: NumPy, ``"cuda"``: CuPy, ``"jax"``: JAX; settable with
``SYMRNN_FLAGS=device=cuda``).  See ``docs/gpu.md`` and ``docs/scale.md``.

Example::

    >>> from symrnn.compile.backends import get_backend
    >>> get_backend("numpy")
    <symrnn backend numpy>
"""

from __future__ import annotations

from typing import Any

from symrnn.compile.backends.cupy_backend import CupyBackend
from symrnn.compile.backends.jax_backend import JaxBackend
from symrnn.compile.backends.numpy_backend import NUMPY, Backend, BackendUnavailable, NumpyBackend
from symrnn.config import config

NAMES = {"numpy": "numpy", "cpu": "numpy", "cupy": "cupy", "cuda": "cupy", "gpu": "cupy", "jax": "jax"}
_CUPY: CupyBackend | None = None
_JAX: JaxBackend | None = None


def cupy_backend() -> CupyBackend:
    """The process-wide CuPy backend (it keeps the compiled kernels), not checked for availability."""
    global _CUPY
    if _CUPY is None:
        _CUPY = CupyBackend()
    return _CUPY


def jax_backend() -> JaxBackend:
    """The process-wide JAX backend, not checked for availability."""
    global _JAX
    if _JAX is None:
        _JAX = JaxBackend()
    return _JAX


def get_backend(backend: Any = None) -> Backend:
    """The backend named ``backend`` (a name, a :class:`Backend`, or ``None`` for ``config.device``).

    Raises :class:`BackendUnavailable` (saying what is missing and how to install it) when the backend
    cannot run here.
    """
    if isinstance(backend, Backend):
        return backend.require()
    if backend is None:
        backend = config.device
    if not isinstance(backend, str) or backend.lower() not in NAMES:
        raise ValueError(f"unknown backend {backend!r}; choose 'numpy' (or 'cpu'), 'cupy' (or 'cuda') or 'jax'")
    name = NAMES[backend.lower()]
    if name == "numpy":
        return NUMPY
    if name == "jax":
        return jax_backend().require()
    return cupy_backend().require()


__all__ = ["Backend", "BackendUnavailable", "NumpyBackend", "CupyBackend", "JaxBackend", "get_backend",
           "cupy_backend", "jax_backend", "NUMPY"]
