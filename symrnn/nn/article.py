"""The articles' LSTM, bug included: every gate computed from ONE shared pre-activation.

The Theano tutorial this project grew out of wrote::

    preact = T.dot(x_t, W_in) + T.dot(h_prev, W) + b
    i = f = o = sigmoid(preact); C_tilde = tanh(preact)

so the input, forget and output gates are the same number, and the "LSTM" has
the parameters of a plain RNN and trains worse than one.  It is kept here, as
``SharedPreactLSTMCell``, only to show the bug; :class:`symrnn.nn.LSTMCell` is
the correct cell, and ``symrnn.lint.check`` flags this one.
"""

from __future__ import annotations

from typing import Any

import symrnn.tensor as T
from symrnn.graph import Variable
from symrnn.nn import init
from symrnn.nn.cells import LSTMCell, State, _pair


class SharedPreactLSTMCell(LSTMCell):
    """The articles' buggy LSTM: ``i = f = o = σ(preact)``, ``C̃ = tanh(preact)``, one ``preact`` for all.

    Parameters: ``W_in`` ``(I, H)``, ``W`` ``(H, H)``, ``b`` ``(H,)``.  Do not use it
    except to see why the gates need their own weights.

    Example::

        >>> list(SharedPreactLSTMCell(3, 4, seed=0, name="buggy_lstm").params)
        ['buggy_lstm/W_in', 'buggy_lstm/W', 'buggy_lstm/b']
    """

    kind = "buggy_lstm"

    def __init__(self, input_size: int, num_units: int, seed: Any = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super(LSTMCell, self).__init__(input_size, num_units, name, dtype)
        self.forget_bias = 0.0
        rng = init.as_rng(seed)
        self._param("W_in", init.glorot_uniform((input_size, num_units), rng, self.dtype))
        self._param("W", init.orthogonal((num_units, num_units), rng, self.dtype))
        self._param("b", init.zeros((num_units,), self.dtype))

    def step(self, x_t: Variable, state: State) -> tuple[Variable, State]:
        x_t = self._check_input(x_t)
        c, h = _pair(state, "SharedPreactLSTMCell")
        p = self.params
        with self._in("preactivation"):
            preact = T.dot(x_t, p["W_in"]) + T.dot(h, p["W"]) + p["b"]
        with self._in("gates"):
            i = f = o = T.nnet.sigmoid(preact)  # the bug: three gates, one value
        with self._in("candidate"):
            candidate = T.tanh(preact)
        with self._in("cell"):
            c_new = f * c + i * candidate
        with self._in("hidden"):
            h_new = o * T.tanh(c_new)
        return h_new, (c_new, h_new)


__all__ = ["SharedPreactLSTMCell"]
