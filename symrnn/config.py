"""Global settings, Theano style: ``symrnn.config.floatX``.

Settable in code (``config.floatX = "float32"``) or through the environment
variable ``SYMRNN_FLAGS=floatX=float32,...`` read once at import.  Theano's
``config.warn.*`` flags live in the section ``config.warn``
(``SYMRNN_FLAGS=warn.round=False``).
"""

from __future__ import annotations

import os
from typing import Any

_ALLOWED = {
    "floatX": ("float64", "float32"),
    "mode": ("FAST_RUN", "FAST_COMPILE", "reference"),
    # where function() runs by default: NumPy, CuPy on an NVIDIA GPU (docs/gpu.md), or JAX (docs/scale.md)
    "device": ("cpu", "cuda", "jax"),
    # Theano's scan.allow_gc: False (the default) keeps each compiled function's loop buffers and products from
    # one call to the next (no allocation, no fresh memory to touch); True frees them after every call
    "allow_gc": (False, True),
    # how loops and fused elementwise arithmetic run on the CPU: NumPy (the default), or numba (optional: a loop
    # becomes one numba function for all its steps, fused arithmetic one kernel per node; docs/performance.md)
    "kernels": ("numpy", "numba"),
    # Theano's test values: symrnn has none (static shapes catch shape mistakes while the graph is built), so
    # only Theano's default, "off", is accepted
    # BLAS threads while a compiled function runs (threadpoolctl): the small matrix products of a loop
    # gain nothing from threads and lose badly when the cores are busy (docs/performance.md); None: the
    # BLAS library's own setting
    "blas_threads": (1, None, *range(2, 257)),
    "compute_test_value": ("off",),
    "print_test_value": (False,),
}

# Theano's warnings about bugs of its own past versions (theano/configdefaults.py), with Theano's defaults.
# symrnn never had these bugs: the flags are accepted, so Theano scripts that switch them off run, and do nothing.
_WARN_VERSIONS = ("0.9", "None", "all", "0.3", "0.4", "0.4.1", "0.5", "0.6", "0.7", "0.8", "0.8.1", "0.8.2",
                  "0.10", "1.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5")
_WARN_ALLOWED: dict[str, tuple[Any, ...]] = {"ignore_bug_before": _WARN_VERSIONS}
_WARN_ALLOWED.update({name: (False, True) for name in (
    "argmax_pushdown_bug", "gpusum_01_011_0111_bug", "sum_sum_bug", "sum_div_dimshuffle_bug",
    "subtensor_merge_bug", "gpu_set_subtensor1", "vm_gc_bug", "signal_conv2d_interface", "reduce_join",
    "inc_set_subtensor1", "round", "identify_1pexp_bug")})
_WARN_ALLOWED["inc_subtensor1_opt"] = (True, False)  # the one bug after 0.9, so Theano warns by default

_NOTES = {
    "compute_test_value": "; symrnn has no test values: its static shapes report a shape mistake, with your "
                          "line, when the graph is built",
    "print_test_value": "; symrnn has no test values",
}
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


class _Flags:
    """Flags whose names and values are checked on assignment, so a typo is an error, not a no-op."""

    _allowed: dict[str, tuple[Any, ...]] = {}
    _prefix = "config."

    def __init__(self) -> None:
        for key, values in self._allowed.items():
            object.__setattr__(self, key, values[0])

    def __setattr__(self, key: str, value: Any) -> None:
        allowed = self._allowed.get(key)
        if allowed is None:
            raise AttributeError(f"symrnn.{self._prefix.rstrip('.')} has no flag {key!r}; known flags: "
                                 f"{sorted(self._allowed)}")
        if isinstance(allowed[0], bool) and isinstance(value, str) and value.lower() in _BOOLEANS:
            value = _BOOLEANS[value.lower()]  # from SYMRNN_FLAGS
        elif isinstance(allowed[0], bool) and isinstance(value, int) and value in (0, 1):
            value = bool(value)  # Theano's BoolParam takes 0 and 1 too
        elif key == "blas_threads" and isinstance(value, str):  # from SYMRNN_FLAGS: a number, or "None"
            value = None if value in ("None", "none", "default") else int(value) if value.isdigit() else value
        if value not in allowed or isinstance(value, bool) != isinstance(allowed[0], bool):
            choices = "a number of threads from 1 to 256, or None" if key == "blas_threads" else f"one of {allowed}"
            raise ValueError(f"{self._prefix}{key} must be {choices}, got {value!r}{_NOTES.get(key, '')}")
        object.__setattr__(self, key, value)


class WarnFlags(_Flags):
    """Theano's ``config.warn.*``: ``config.warn.round = False``.  They switch off Theano's warnings about bugs
    in its own past versions, which symrnn never had; symrnn accepts them and they change nothing.

    Example::

        >>> from symrnn import config
        >>> config.warn.subtensor_merge_bug = False
        >>> config.warn.round
        False
    """

    _allowed = _WARN_ALLOWED
    _prefix = "config.warn."


class Config(_Flags):
    """Holds the flags; assignment is validated so a typo is an error, not a no-op.

    Example::

        >>> from symrnn import config
        >>> config.floatX
        'float64'
    """

    _allowed = _ALLOWED

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "warn", WarnFlags())

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "warn":
            raise AttributeError("config.warn is a group of flags; set one of them, as config.warn.round = False")
        super().__setattr__(key, value)

    def apply_flags(self, flags: str) -> None:
        """Apply a ``name=value,name=value`` string such as ``SYMRNN_FLAGS`` (``warn.round=False`` too)."""
        for item in filter(None, (part.strip() for part in flags.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"SYMRNN_FLAGS entry {item!r} is not of the form name=value")
            section, dot, name = key.strip().rpartition(".")
            if dot and section == "warn":
                setattr(self.warn, name, value.strip())
            else:
                setattr(self, key.strip(), value.strip())


config = Config()
config.apply_flags(os.environ.get("SYMRNN_FLAGS", ""))
