"""Compilation: ``function()``, its inputs and outputs with options (``In``, ``Out``), code generation, the
backends, and the checking modes (``DebugMode``, ``NanGuardMode``)."""

from symrnn.compile.function import Function, UnusedInputError, function
from symrnn.compile.io import In, Out
from symrnn.compile.mode import Mode
from symrnn.compile.nanguardmode import NanGuardError, NanGuardMode

__all__ = ["Function", "In", "Mode", "Out", "UnusedInputError", "function", "NanGuardMode", "NanGuardError"]
