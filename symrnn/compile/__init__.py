"""Compilation: ``function()``, the generated-code backend and the reference interpreter."""

from symrnn.compile.function import Function, In, UnusedInputError, function

__all__ = ["Function", "In", "UnusedInputError", "function"]
