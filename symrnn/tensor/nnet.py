"""``T.nnet``: Theano's neural-network namespace."""

from symrnn.ops.nnet import *  # noqa: F403
from symrnn.ops.nnet import __all__  # noqa: F401
