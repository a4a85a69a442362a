"""symrnn: a small Theano-style symbolic graph compiler for recurrent networks.

Example::

    >>> import numpy as np
    >>> import symrnn, symrnn.tensor as T
    >>> x = T.dmatrix("x")
    >>> s = T.sum(1 / (1 + T.exp(-x)))
    >>> gs = symrnn.grad(s, x)
    >>> dlogistic = symrnn.function([x], gs)
    >>> dlogistic([[0, 1], [-1, -2]]).round(8)
    array([[0.25      , 0.19661193],
           [0.19661193, 0.10499359]])
"""

from symrnn import tensor  # noqa: F401, I001  (attaches the tensor language to Variable first)
from symrnn import ifelse, lint, printing, sandbox, scan_module  # ifelse: Theano's theano.ifelse module
from symrnn.printing import pp
from symrnn.compile import Function, In, Mode, Out, function
from symrnn.config import config
from symrnn.gradient import Lop, Rop, grad, hessian, jacobian, verify_grad
from symrnn.graph import MissingInputError
from symrnn.graph import clone_replace as clone
from symrnn.graph import to_networkx
from symrnn.ops.blas import dot
from symrnn.scan import foldl, foldr, map, reduce, scan, until  # noqa: A004  (Theano's names)
from symrnn.tensor.basic import shared

__version__ = "0.1.0"

__all__ = ["Function", "In", "Lop", "MissingInputError", "Mode", "Out", "Rop", "clone", "config", "dot", "foldl",
           "foldr", "function", "grad", "hessian", "ifelse", "jacobian", "lint", "map", "pp", "printing", "reduce",
           "sandbox", "scan", "scan_module", "shared", "tensor", "to_networkx", "until", "verify_grad"]
