"""Global settings, Theano style: ``symrnn.config.floatX``.

Settable in code (``config.floatX = "float32"``) or through the environment
variable ``SYMRNN_FLAGS=floatX=float32,...`` read once at import.
"""

from __future__ import annotations

import os

_ALLOWED = {
    "floatX": ("float64", "float32"),
    "mode": ("FAST_RUN", "FAST_COMPILE", "reference"),
    "device": ("cpu", "cuda"),  # where function() runs by default: NumPy, or CuPy on an NVIDIA GPU (docs/gpu.md)
    # Theano's scan.allow_gc: False (the default) keeps each compiled function's loop buffers and products from
    # one call to the next (no allocation, no fresh memory to touch); True frees them after every call
    "allow_gc": (False, True),
    # how fused elementwise arithmetic runs on the CPU: NumPy ufuncs (the default), or one numba kernel per
    # fused node (optional; docs/performance.md)
    "kernels": ("numpy", "numba"),
}
_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


class Config:
    """Holds the flags; assignment is validated so a typo is an error, not a no-op.

    Example::

        >>> from symrnn import config
        >>> config.floatX
        'float64'
    """

    def __init__(self) -> None:
        object.__setattr__(self, "floatX", "float64")
        object.__setattr__(self, "mode", "FAST_RUN")
        object.__setattr__(self, "device", "cpu")
        object.__setattr__(self, "allow_gc", False)
        object.__setattr__(self, "kernels", "numpy")

    def __setattr__(self, key: str, value: str) -> None:
        if key not in _ALLOWED:
            raise AttributeError(f"symrnn.config has no flag {key!r}; known flags: {sorted(_ALLOWED)}")
        if isinstance(_ALLOWED[key][0], bool) and isinstance(value, str) and value.lower() in _BOOLEANS:
            value = _BOOLEANS[value.lower()]  # from SYMRNN_FLAGS
        if value not in _ALLOWED[key]:
            raise ValueError(f"config.{key} must be one of {_ALLOWED[key]}, got {value!r}")
        object.__setattr__(self, key, value)

    def apply_flags(self, flags: str) -> None:
        """Apply a ``name=value,name=value`` string such as ``SYMRNN_FLAGS``."""
        for item in filter(None, (part.strip() for part in flags.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"SYMRNN_FLAGS entry {item!r} is not of the form name=value")
            setattr(self, key.strip(), value.strip())


config = Config()
config.apply_flags(os.environ.get("SYMRNN_FLAGS", ""))
