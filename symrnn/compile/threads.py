"""BLAS threads while compiled code runs: ``config.blas_threads``, applied with ``threadpoolctl``.

A recurrent model's matrix products are small and run one step at a time;
BLAS threads do not speed them up, and when the cores are busy they stall
(the demo took 15 times as long on a loaded machine).  Every call of a
compiled function sets the BLAS libraries' thread count to
``config.blas_threads`` (1 by default; ``None`` leaves the library's own
setting) and puts the previous count back when it returns, so the rest of the
program keeps its settings.  Setting and restoring costs about 3 µs a call.

Example::

    >>> from symrnn import config
    >>> config.blas_threads
    1
"""

from __future__ import annotations

from typing import Any

from threadpoolctl import ThreadpoolController

_libraries: list[Any] | None = None


def _blas_libraries() -> list[Any]:
    global _libraries
    if _libraries is None:  # found once per process: looking through the loaded libraries takes about 1 ms
        _libraries = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _libraries


def set_blas_threads(n: int) -> list[int]:
    """Give every loaded BLAS library ``n`` threads; returns their previous counts, for :func:`restore`."""
    libraries = _blas_libraries()
    previous = [library.get_num_threads() for library in libraries]
    for library, count in zip(libraries, previous):
        if count != n:
            library.set_num_threads(n)
    return previous


def restore(previous: list[int]) -> None:
    """Put back the thread counts that :func:`set_blas_threads` returned."""
    for library, count in zip(_blas_libraries(), previous):
        library.set_num_threads(count)


def blas_threads_now() -> list[int]:
    """The thread count of each loaded BLAS library (for tests and benchmarks)."""
    return [library.get_num_threads() for library in _blas_libraries()]


__all__ = ["set_blas_threads", "restore", "blas_threads_now"]
