"""Theano's ``theano.scan_module``: ``scan``, ``until`` and the other loop functions, under Theano's module name."""

from symrnn.scan import *  # noqa: F403
from symrnn.scan import __all__  # noqa: F401
