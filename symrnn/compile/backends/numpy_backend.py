"""The NumPy backend (the default), and :class:`Backend`, the interface every backend implements.

A backend tells the compiler where values live and how code reaches them:
the array module ``xp`` the generated source calls, how inputs, constants and
shared variables get there, how results come back, and (for fused
elementwise groups) whether it compiles a kernel of its own.  The NumPy
backend is the identity everywhere: values are host arrays and shared
variables live in their containers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from symrnn.graph import Apply, SharedVariable, Variable


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run here (a missing package or device); the message says what to do."""


class Backend:
    """Where compiled code runs.  The defaults describe NumPy on the host."""

    name = "numpy"
    device = False  # True when values live in device memory (copies in and out cost a transfer)
    functional = False  # True when arrays are immutable (JAX): no buffers kept between calls, no writes in place

    @property
    def xp(self) -> Any:
        """The array module the generated code calls as ``xp``."""
        return np

    # ---- availability
    _probed = False
    _reason: str | None = None

    def unavailable_reason(self) -> str | None:
        """Why this backend cannot run here, or ``None`` when it can (found out once, by :meth:`_probe`)."""
        if not self._probed:
            self._reason, self._probed = self._probe(), True
        return self._reason

    def _probe(self) -> str | None:
        """Try the backend's library and device: ``None``, or what is missing and how to get it."""
        return None

    def available(self) -> bool:
        return self.unavailable_reason() is None

    def require(self) -> Backend:
        """Return ``self``, or raise :class:`BackendUnavailable` with what is missing and how to get it."""
        reason = self.unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(reason)
        return self

    # ---- values
    def asarray(self, value: Any) -> Any:
        """``value`` as an array of this backend (host to device for a device backend)."""
        return np.asarray(value)

    def to_host(self, value: Any) -> np.ndarray:
        """``value`` as a NumPy array on the host (device to host for a device backend)."""
        return np.asarray(value)

    def owns(self, value: Any) -> bool:
        """Whether ``value`` is already an array of this backend's device (accepted as an input as is)."""
        return False

    def check_input(self, var: Variable, value: Any, what: str) -> Any:
        """Check a device array given as an input (dtype and shape), without copying it."""
        return value

    def prepare_input(self, value: np.ndarray) -> Any:
        """A filtered input value (a NumPy array, or a device array that passed :meth:`check_input`)."""
        return value

    def constant(self, data: np.ndarray) -> Any:
        """How a graph constant is bound in the generated code."""
        return data

    def output(self, value: Any, return_numpy: bool) -> Any:
        """A result as handed to the caller."""
        return value

    def load_shared(self, var: SharedVariable) -> Any:
        """The current value of a shared variable, where the compiled code reads it."""
        return var.container[0]

    def store_shared(self, var: SharedVariable, value: Any) -> None:
        """Store an update of a shared variable computed by the compiled code."""
        var.container[0] = value

    def synchronize(self) -> None:
        """Wait until queued device work is done (nothing to wait for on the host)."""

    def refuses(self, mode: Any, profile: bool) -> str | None:
        """Why ``function()`` cannot compile for this backend with ``mode`` and ``profile``, or ``None``."""
        return None

    # ---- code generation
    def emit(self, node: Apply, inputs: list[str], outputs: list[str], ctx: Any) -> Any:
        """The source for ``node`` (the op's own ``emit`` unless the backend must do otherwise)."""
        return node.op.emit(node, inputs, outputs, ctx)

    def fused_kernel(self, node: Apply) -> Any:
        """A compiled kernel for a ``FusedElemwise`` node, or ``None`` to let the op emit array code."""
        return None

    def begin_function(self, ctx: Any, inputs: list[Variable], shared: list[SharedVariable],
                       nodes: list[Apply]) -> None:
        """Called before the nodes of one function are emitted (a backend may study the graph, in ``ctx``)."""

    def end_function(self, ctx: Any, fn_name: str, inputs: list[Variable]) -> list[str]:
        """Source lines after the generated ``def`` (say, one that wraps the function for a compiler)."""
        return []

    def __repr__(self) -> str:
        return f"<symrnn backend {self.name}>"


class NumpyBackend(Backend):
    """NumPy on the host: what ``function()`` uses unless told otherwise."""


NUMPY = NumpyBackend()

__all__ = ["Backend", "BackendUnavailable", "NumpyBackend", "NUMPY"]
