"""Theano's ``Mode(linker=..., optimizer=...)``, mapped onto symrnn's modes.

symrnn has one linker, its code generator, so ``linker`` is accepted and
ignored (``"py"``, ``"c"``, ``"vm"``, ``"cvm"`` all compile to Python over
NumPy).  ``optimizer`` picks the mode: ``"fast_run"`` (or ``"default"``, as in
Theano) is ``FAST_RUN``; ``"fast_compile"``, ``None`` or ``"None"`` (no
rewrites) is ``FAST_COMPILE``.

Example::

    >>> import symrnn, symrnn.tensor as T
    >>> x = T.dscalar("x")
    >>> symrnn.function([x], x * 2, mode=Mode(linker="vm")).mode
    'FAST_RUN'
    >>> Mode(optimizer=None).name
    'FAST_COMPILE'
"""

from __future__ import annotations

from typing import Any

LINKERS = ("py", "c", "c|py", "c|py_nogc", "vm", "vm_nogc", "cvm", "cvm_nogc", None)
OPTIMIZERS = {"fast_run": "FAST_RUN", "default": "FAST_RUN", "fast_compile": "FAST_COMPILE", "None": "FAST_COMPILE",
              None: "FAST_COMPILE", "o4": "FAST_RUN", "merge": "FAST_COMPILE"}


class Mode:
    """Theano's compilation mode object; ``function(mode=Mode(...))`` uses the symrnn mode it names."""

    def __init__(self, linker: Any = None, optimizer: Any = "default") -> None:
        if linker not in LINKERS:
            raise ValueError(f"Mode: unknown linker {linker!r}; Theano's were {[k for k in LINKERS if k]}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Mode: unknown optimizer {optimizer!r}; choose one of {sorted(map(str, OPTIMIZERS))}")
        self.linker, self.optimizer = linker, optimizer
        self.name = OPTIMIZERS[optimizer]

    def including(self, *tags: str) -> Mode:
        """Theano's way to add rewrites by tag; symrnn's pipeline is fixed, so this is the same mode."""
        return self

    excluding = requiring = including

    def __repr__(self) -> str:
        return f"Mode(linker={self.linker!r}, optimizer={self.optimizer!r})"


__all__ = ["Mode"]
