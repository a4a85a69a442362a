"""Neural-network building blocks: cells, ``rnn``, layers, initializers, losses and optimizers.

Example::

    >>> import symrnn, symrnn.tensor as T
    >>> from symrnn import nn
    >>> with nn.name_scope("encoder"):
    ...     emb, cell = nn.Embedding(100, 3, seed=0), nn.LSTMCell(3, 8, seed=0)
    >>> outputs, (c, h) = nn.rnn(cell, emb(T.imatrix("ids")))
    >>> list(nn.params(emb, cell))[:2]    # every parameter by its full, unique name
    ['encoder/embedding/W', 'encoder/lstm/W_i']
"""

from symrnn.nn import init, io, losses, optimizers
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
from symrnn.nn.io import load_params, save_params
from symrnn.nn.layers import Dense, Embedding
from symrnn.nn.naming import collect_params as params
from symrnn.nn.naming import name_scope, reset_default_names
from symrnn.nn.recurrent import GRU, LSTM, RNN

__all__ = ["GRU", "LSTM", "RNN",  # the PyTorch-style layers
           "Cell", "Dense", "DropoutWrapper", "Embedding", "GRUCell", "LSTMCell", "MultiRNNCell", "RNNCell",
           "bidirectional_rnn", "export_torch_weights", "init", "io", "load_params", "load_torch_weights", "losses",
           "name_scope", "optimizers", "params", "reset_default_names", "rnn", "save_params"]
