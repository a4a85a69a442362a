"""Theano's ``theano.ifelse`` module: ``ifelse``, the lazy conditional (defined in :mod:`symrnn.scan.ifelse`)."""

from symrnn.scan.ifelse import IfElse, ifelse

__all__ = ["IfElse", "ifelse"]
