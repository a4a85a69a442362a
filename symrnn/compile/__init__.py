"""Compilation: ``function()``, the generated-code backend and the reference interpreter."""

from symrnn.compile.function import Function, UnusedInputError, function

__all__ = ["Function", "UnusedInputError", "function"]
