"""``NanGuardMode`` (Theano's name): compiled code that stops at the first NaN, Inf or huge value.

``function(..., mode=NanGuardMode(nan_is_error=True, inf_is_error=True,
big_is_error=True))`` compiles the graph as built (no rewrites, so that every
node is an op the user wrote, with the user's line) and checks each node's
output as soon as it is computed, inside loops too.  The first bad value stops
the call with a :class:`NanGuardError` that names the node, its op, its
inputs, the line that built it and, inside a scan, the loop step.  The inputs
and shared values are checked first, so a NaN that comes in is named as such.

Example::

    >>> import numpy as np, symrnn, symrnn.tensor as T
    >>> x = T.dvector("x")
    >>> f = symrnn.function([x], T.log(x).sum(), mode=NanGuardMode())
    >>> f(np.array([1.0, -1.0]))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    symrnn.compile.nanguardmode.NanGuardError: NanGuardMode: log produced NaN ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import Apply, describe

#: What ``big_is_error`` calls huge, as in Theano.
BIG = 1e10


class NanGuardError(AssertionError):
    """A NaN, an Inf or a huge value found by :class:`NanGuardMode` (an ``AssertionError``, as in Theano)."""


class NanGuardMode:
    """A compilation mode that checks every computed value (see the module docstring)."""

    def __init__(self, nan_is_error: bool = True, inf_is_error: bool = True, big_is_error: bool = True,
                 optimizer: Any = None, linker: Any = None) -> None:
        self.nan_is_error, self.inf_is_error, self.big_is_error = bool(nan_is_error), bool(inf_is_error), \
            bool(big_is_error)

    def __repr__(self) -> str:
        return (f"NanGuardMode(nan_is_error={self.nan_is_error}, inf_is_error={self.inf_is_error}, "
                f"big_is_error={self.big_is_error})")

    def problem(self, value: Any) -> str | None:
        """What is wrong with ``value`` (``"NaN"``, ``"Inf"``, ``"a huge value"``), or None."""
        kind = getattr(getattr(value, "dtype", None), "kind", None)
        if kind not in ("f", "c"):
            return None  # integers and booleans hold no NaN or Inf
        if self.nan_is_error and bool(np.isnan(value).any()):
            return "NaN"
        if self.inf_is_error and bool(np.isinf(value).any()):
            return "Inf"
        if self.big_is_error and bool((np.isfinite(value) & (np.abs(value) > BIG)).any()):  # Inf is inf's
            return f"a huge value (|x| > {BIG:g})"
        return None

    def check_node(self, node: Apply, index: int, value: Any, step: Any = None) -> None:
        """Raise :class:`NanGuardError` if output ``index`` of ``node`` (computed at loop ``step``) is bad."""
        problem = self.problem(value)
        if problem is None:
            return
        out = node.outputs[index]
        where = f" at loop step {int(step)}" if step is not None else ""
        which = f"output {index}" if len(node.outputs) > 1 else "its output"
        raise NanGuardError(
            f"NanGuardMode: {node.op} produced {problem} in {which} ({describe(out)}){where}\n"
            f"  inputs: {', '.join(describe(v) for v in node.inputs) or 'none'}\n"
            f"  the node was built at {node.trace}")

    def check_input(self, what: str, value: Any) -> None:
        """Raise :class:`NanGuardError` if an input or shared value given to the function is already bad."""
        problem = self.problem(np.asarray(value) if isinstance(value, (list, tuple, float)) else value)
        if problem is not None:
            raise NanGuardError(f"NanGuardMode: {what} holds {problem} before anything is computed")


__all__ = ["NanGuardMode", "NanGuardError", "BIG"]
