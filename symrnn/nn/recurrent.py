"""PyTorch-style recurrent layers: ``LSTM``, ``GRU`` and ``RNN`` with ``num_layers``, ``bidirectional``,
``batch_first`` and ``dropout``, built from symrnn's cells and ``rnn()``.

Each layer holds one cell per layer and direction, every gate with its own
weights (the compiler merges them, as for the cells).  Calling a layer follows
``torch.nn``: ``out, h_n = gru(x, h0)``, ``out, (h_n, c_n) = lstm(x, (h0, c0))``,
states ``(num_layers * D, B, H)`` in PyTorch's order (layer 0 forward, layer 0
reverse, layer 1 forward...), and the state order ``(h, c)``.  PyTorch's
weight layout comes and goes through ``load_torch_weights`` and
``export_torch_weights`` (``symrnn.nn.interop``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import symrnn.tensor as T
from symrnn.config import config
from symrnn.graph import GraphShapeError, GraphTypeError, Variable, user_line
from symrnn.nn import init
from symrnn.nn.cells import Cell, GRUCell, LSTMCell, RNNCell, rnn
from symrnn.nn.naming import HasParams, Params, _absolute_scope, full_name
from symrnn.ops.random import RandomStreams
from symrnn.tensor.basic import as_tensor_variable, shared


class RecurrentLayer(HasParams):
    """What ``LSTM``, ``GRU`` and ``RNN`` share: the constructor, ``params``, ``train()``/``eval()`` and the call."""

    kind = ""  # "lstm", "gru" or "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, seed: Any = None,
                 name: str | None = None, dtype: Any = None) -> None:
        who = type(self).__name__
        for what, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise GraphTypeError(f"{who}: {what} must be a positive int, got {value!r} (at {user_line()})")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise GraphTypeError(f"{who}: dropout must be a probability in [0, 1), got {dropout!r} "
                                 f"(at {user_line()})")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{who}: dropout={dropout} acts between layers only, and num_layers=1 has none "
                          f"(at {user_line()})", UserWarning, stacklevel=2)
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        self.name = full_name(name, self.kind)
        self.dtype = np.dtype(dtype or config.floatX).name
        self.num_directions = 2 if self.bidirectional else 1
        rng = init.as_rng(seed)
        # cells[k][d]: layer k, direction d (0 forward, 1 reverse), named with PyTorch's suffixes: lstm/l0_reverse.
        self.cells: list[list[Cell]] = []
        self.params = Params(self.name)
        bound = 1.0 / np.sqrt(self.hidden_size)  # PyTorch's initialization: uniform(-1/sqrt(H), 1/sqrt(H))
        for k in range(self.num_layers):
            n_in = self.input_size if k == 0 else self.num_directions * self.hidden_size
            row = []
            for d in range(self.num_directions):
                with _absolute_scope(self.name):
                    cell = self._make_cell(n_in, f"l{k}{'_reverse' if d else ''}")
                for key, var in cell.params.local_items():
                    is_bias = key.startswith("b")
                    shape = var.get_value(borrow=True).shape
                    if self.bias or not is_bias:  # bias=False: the biases stay at zero and are not trained
                        var.set_value(rng.uniform(-bound, bound, shape).astype(self.dtype))
                        self.params[var.name] = var
                    else:
                        var.set_value(np.zeros(shape, dtype=self.dtype))
                row.append(cell)
            self.cells.append(row)
        self._stream = RandomStreams(int(rng.integers(2**31)))
        self.training = shared(np.int8(1), name=f"{self.name}/training")

    def _make_cell(self, n_in: int, name: str) -> Cell:
        raise NotImplementedError

    # ---- training mode, as torch.nn.Module
    def train(self, mode: bool = True) -> RecurrentLayer:
        """Dropout between layers on (the default); it acts in functions already compiled."""
        self.training.set_value(np.int8(bool(mode)))
        return self

    def eval(self) -> RecurrentLayer:
        """Dropout off: ``train(False)``."""
        return self.train(False)

    # ---- the call
    def _check(self, x: Any, hx: Any) -> tuple[Variable, list[Variable]]:
        """The input and the initial states, checked against the layer, with errors naming the user's variables."""
        who = type(self).__name__
        x = as_tensor_variable(x)
        layout = "(batch, time, features)" if self.batch_first else "(time, batch, features)"
        if x.ndim != 3:
            raise GraphTypeError(f"{who}: the input {_called(x)} must be 3-D {layout}, got {x.type!r} "
                                 f"(at {user_line()})")
        if x.type.shape[2] not in (None, self.input_size):
            raise GraphShapeError(f"{who}: the input {_called(x)} has {x.type.shape[2]} features but the layer has "
                                  f"input_size={self.input_size} (at {user_line()})")
        n_states = 2 if self.kind == "lstm" else 1
        if hx is None:
            return x, []
        if n_states == 2:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise GraphTypeError(f"{who}: the initial state must be the pair (h0, c0), as in PyTorch, got "
                                     f"{hx!r} (at {user_line()})")
            states = list(hx)
        else:
            if isinstance(hx, (tuple, list)):
                raise GraphTypeError(f"{who}: the initial state is one tensor h0 (num_layers * num_directions, "
                                     f"batch, hidden_size), got a {type(hx).__name__} (at {user_line()})")
            states = [hx]
        want = (self.num_layers * self.num_directions, self.hidden_size)
        batch_axis = 0 if self.batch_first else 1
        checked = []
        for s in states:
            s = as_tensor_variable(s)
            if s.ndim != 3:
                raise GraphTypeError(f"{who}: the initial state {_called(s)} must be 3-D (num_layers * "
                                     f"num_directions={want[0]}, batch, hidden_size={want[1]}), got {s.type!r} "
                                     f"(at {user_line()})")
            static = (s.type.shape[0], s.type.shape[2])
            if any(got not in (None, w) for got, w in zip(static, want)):
                raise GraphShapeError(f"{who}: the initial state {_called(s)} has shape {s.type.shape}, expected "
                                      f"({want[0]}, batch, {want[1]}) (at {user_line()})")
            s = T.specify_shape(s, (want[0], T.shape_i(x, batch_axis), want[1]),
                                hint=f"{who}: initial states are (num_layers * num_directions, batch, hidden_size), "
                                     f"with the input's batch size")
            checked.append(T.cast(s, x.dtype) if s.dtype != x.dtype else s)
        return x, checked

    def _dropout(self, x: Variable) -> Variable:
        keep = 1.0 - self.dropout
        mask = self._stream.binomial([T.shape_i(x, a) for a in range(x.ndim)], p=keep, dtype=x.dtype)
        return T.switch(self.training, x * mask / np.asarray(keep, dtype=x.dtype), x)

    def __call__(self, input: Any, hx: Any = None) -> tuple[Variable, Any]:  # noqa: A002 (PyTorch's name)
        with self._in():
            return self._call(input, hx)

    def _call(self, input: Any, hx: Any) -> tuple[Variable, Any]:  # noqa: A002
        x, states = self._check(input, hx)
        seq = x.dimshuffle(1, 0, 2) if self.batch_first else x  # time-major inside
        h_n, c_n = [], []
        for k, row in enumerate(self.cells):
            if k > 0 and self.dropout > 0:
                seq = self._dropout(seq)  # between layers only: never after the last, never on the recurrence
            outs = []
            for d, cell in enumerate(row):
                j = k * self.num_directions + d
                s0 = None
                if states:
                    s0 = (states[1][j], states[0][j]) if self.kind == "lstm" else states[0][j]
                out, final = rnn(cell, seq, s0, go_backwards=d == 1)  # backward outputs come back in time order
                outs.append(out)
                if self.kind == "lstm":
                    c_n.append(final[0])
                    h_n.append(final[1])
                else:
                    h_n.append(final)
            seq = outs[0] if len(outs) == 1 else T.concatenate(outs, axis=2)
        output = seq.dimshuffle(1, 0, 2) if self.batch_first else seq
        if self.kind == "lstm":
            return output, (T.stack(h_n), T.stack(c_n))
        return output, T.stack(h_n)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v, default in (
            ("num_layers", self.num_layers, 1), ("bias", self.bias, True), ("batch_first", self.batch_first, False),
            ("dropout", self.dropout, 0.0), ("bidirectional", self.bidirectional, False)) if v != default)
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra}, name={self.name!r})"


def _called(var: Variable) -> str:
    return repr(var.name) if var.name else "(unnamed)"


class LSTM(RecurrentLayer):
    """PyTorch's ``nn.LSTM``, one ``LSTMCell(forget_bias=0)`` per layer and direction; the state is ``(h, c)``.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> lstm = LSTM(4, 6, num_layers=2, bidirectional=True, batch_first=True, seed=0, name="lstm")
        >>> list(lstm.params)[:2], len(lstm.params)
        (['lstm/l0/W_i', 'lstm/l0/W_f'], 48)
        >>> x = T.tensor3("x")
        >>> out, (h_n, c_n) = lstm(x)
        >>> [a.shape for a in symrnn.function([x], [out, h_n, c_n])(np.ones((3, 5, 4)))]
        [(3, 5, 12), (4, 3, 6), (4, 3, 6)]
    """

    kind = "lstm"

    def _make_cell(self, n_in: int, name: str) -> Cell:
        return LSTMCell(n_in, self.hidden_size, forget_bias=0.0, name=name, dtype=self.dtype)


class GRU(RecurrentLayer):
    """PyTorch's ``nn.GRU``, one ``GRUCell(reset_after=True)`` per layer and direction.

    Example::

        >>> import symrnn.tensor as T
        >>> gru = GRU(4, 6, seed=0, name="gru")
        >>> [name for name, _ in gru.named_parameters()][:4]
        ['gru/l0/W_z', 'gru/l0/W_r', 'gru/l0/W_h', 'gru/l0/U_z']
        >>> out, h_n = gru(T.tensor3("x"), T.tensor3("h0"))
    """

    kind = "gru"

    def _make_cell(self, n_in: int, name: str) -> Cell:
        return GRUCell(n_in, self.hidden_size, reset_after=True, name=name, dtype=self.dtype)


class RNN(RecurrentLayer):
    """PyTorch's ``nn.RNN`` (Elman): ``h' = nonlinearity(x·W + h·U + b)``, ``nonlinearity`` ``'tanh'`` or ``'relu'``.

    Example::

        >>> RNN(4, 6, num_layers=2, nonlinearity="relu", seed=0, name="rnn")
        RNN(4, 6, num_layers=2, name='rnn')
    """

    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 seed: Any = None, name: str | None = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise GraphTypeError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r} "
                                 f"(at {user_line()})")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, seed, name,
                         dtype)

    def _make_cell(self, n_in: int, name: str) -> Cell:
        activation = T.tanh if self.nonlinearity == "tanh" else T.nnet.relu
        return RNNCell(n_in, self.hidden_size, activation=activation, name=name, dtype=self.dtype)


__all__ = ["RecurrentLayer", "LSTM", "GRU", "RNN"]
