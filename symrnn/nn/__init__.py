"""Neural-network building blocks: cells, ``rnn``, layers, initializers, losses and optimizers.

Example::

    >>> import symrnn, symrnn.tensor as T
    >>> from symrnn import nn
    >>> cell = nn.LSTMCell(3, 8, seed=0)
    >>> outputs, (c, h) = nn.rnn(cell, T.tensor3("x"))
"""

from symrnn.nn import init
from symrnn.nn.cells import (
    Cell,
    DropoutWrapper,
    GRUCell,
    LSTMCell,
    MultiRNNCell,
    RNNCell,
    bidirectional_rnn,
    rnn,
)
from symrnn.nn.interop import export_torch_weights, load_torch_weights

__all__ = ["Cell", "DropoutWrapper", "GRUCell", "LSTMCell", "MultiRNNCell", "RNNCell", "bidirectional_rnn",
           "export_torch_weights", "init", "load_torch_weights", "rnn"]
