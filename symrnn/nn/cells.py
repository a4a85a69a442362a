"""Recurrent cells, written one gate at a time with their own weights, and ``rnn()`` to run them over time.

Parameter names and equations follow ``DESIGN.md``: input-to-gate ``W_*``
``(I, H)``, hidden-to-gate ``U_*`` ``(H, H)``, biases ``b_*`` ``(H,)``.  The
compiler, not the user, merges the per-gate products into one matrix product.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import symrnn.tensor as T
from symrnn.config import config
from symrnn.graph import FLOAT_DTYPES, GraphShapeError, GraphTypeError, SharedVariable, Variable, user_line
from symrnn.nn import init
from symrnn.nn.naming import HasParams, Params, _absolute_scope, full_name
from symrnn.ops.random import RandomStreams
from symrnn.scan import scan
from symrnn.tensor.basic import as_tensor_variable, shared

State = Any  # a Variable, or a tuple of them (LSTM: (C, h); stacked cells: one entry per layer)


class Cell(HasParams):
    """Base class: ``params`` (shared variables by full name, see ``symrnn.nn.naming``), ``step``, ``zero_state``.

    ``name`` defaults to the cell's kind, made unique (``lstm``, ``lstm_1``...);
    ``dtype`` (default ``config.floatX``) is the parameters' dtype.
    """

    input_size: int
    num_units: int
    kind = "cell"  # the default name

    def __init__(self, input_size: int, num_units: int, name: str | None = None, dtype: Any = None) -> None:
        for what, value in (("input_size", input_size), ("num_units", num_units)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise GraphTypeError(f"{type(self).__name__}: {what} must be a positive int, got {value!r} "
                                     f"(at {user_line()})")
        self.input_size, self.num_units = int(input_size), int(num_units)
        self.name = full_name(name, self.kind)
        self.dtype = np.dtype(dtype or config.floatX).name
        if self.dtype not in FLOAT_DTYPES:
            raise GraphTypeError(f"{type(self).__name__}: dtype must be a float dtype, got {self.dtype} "
                                 f"(at {user_line()})")
        self.params = Params(self.name)

    # ---- building parameters
    def _param(self, key: str, value: np.ndarray) -> SharedVariable:
        var = shared(np.asarray(value, dtype=self.dtype), name=f"{self.name}/{key}", shape=value.shape)
        self.params[var.name] = var
        return var

    def _gate_params(self, gates: Sequence[str], rng: np.random.Generator,
                     bias: dict[str, float] | None = None) -> None:
        """``W_g`` (Glorot uniform), ``U_g`` (orthogonal) and ``b_g`` for each gate, in DESIGN.md's order."""
        for g in gates:
            self._param(f"W_{g}", init.glorot_uniform((self.input_size, self.num_units), rng, self.dtype))
        for g in gates:
            self._param(f"U_{g}", init.orthogonal((self.num_units, self.num_units), rng, self.dtype))
        for g in gates:
            self._param(f"b_{g}", init.constant((self.num_units,), (bias or {}).get(g, 0.0), self.dtype))

    def _preact(self, gate: str, x_t: Variable, h: Variable) -> Variable:
        """``x·W_g + h·U_g + b_g``: one gate's own pre-activation."""
        p = self.params
        return T.dot(x_t, p[f"W_{gate}"]) + T.dot(h, p[f"U_{gate}"]) + p[f"b_{gate}"]

    # ---- the cell interface
    @property
    def output_size(self) -> int:
        return self.num_units

    def zero_state(self, batch_size: Any, dtype: Any = None) -> State:
        """The all-zero initial state for ``batch_size`` examples."""
        return T.zeros((batch_size, self.num_units), dtype=dtype or self._dtype())

    def step(self, x_t: Variable, state: State) -> tuple[Variable, State]:
        """One time step: ``(output, new_state)`` from the input ``x_t`` ``(B, I)`` and the state."""
        raise NotImplementedError

    def _dtype(self) -> str:
        return self.dtype

    def _check_input(self, x_t: Any) -> Variable:
        x_t = as_tensor_variable(x_t)
        if x_t.ndim != 2:
            raise GraphTypeError(f"{type(self).__name__}.step: the input must be a (batch, {self.input_size}) "
                                 f"matrix, got {x_t.type!r} (at {user_line()})")
        if x_t.type.shape[1] not in (None, self.input_size):
            raise GraphShapeError(f"{type(self).__name__}.step: the input has {x_t.type.shape[1]} features but the "
                                  f"cell expects input_size={self.input_size} (at {user_line()})")
        return x_t

    def __repr__(self) -> str:
        return f"{type(self).__name__}(input_size={self.input_size}, num_units={self.num_units}, name={self.name!r})"


class RNNCell(Cell):
    """The basic recurrent cell: ``h' = activation(x·W + h·U + b)`` (TensorFlow 1's ``BasicRNNCell``).

    Example::

        >>> import symrnn.tensor as T
        >>> cell = RNNCell(3, 5, seed=0, name="rnn")
        >>> list(cell.params), cell.params["W"].name
        (['rnn/W', 'rnn/U', 'rnn/b'], 'rnn/W')
        >>> out, h = cell.step(T.matrix("x_t"), cell.zero_state(2))
    """

    kind = "rnn"

    def __init__(self, input_size: int, num_units: int, activation: Callable[[Variable], Variable] | None = None,
                 seed: Any = None, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(input_size, num_units, name, dtype)
        self.activation = activation or T.tanh
        rng = init.as_rng(seed)
        self._param("W", init.glorot_uniform((input_size, num_units), rng, self.dtype))
        self._param("U", init.orthogonal((num_units, num_units), rng, self.dtype))
        self._param("b", init.zeros((num_units,), self.dtype))

    def step(self, x_t: Variable, state: State) -> tuple[Variable, State]:
        p = self.params
        x_t = self._check_input(x_t)
        with self._in("hidden"):
            h = self.activation(T.dot(x_t, p["W"]) + T.dot(state, p["U"]) + p["b"])
        return h, h


class LSTMCell(Cell):
    """A long short-term memory cell with separate weights for every gate; the state is ``(C, h)``.

    ``i = σ(x·W_i + h·U_i + b_i)``, ``f = σ(x·W_f + h·U_f + b_f + forget_bias)``,
    ``o = σ(x·W_o + h·U_o + b_o)``, ``C̃ = tanh(x·W_c + h·U_c + b_c)``,
    ``C' = f*C + i*C̃``, ``h' = o*tanh(C')``.

    Example::

        >>> cell = LSTMCell(3, 5, seed=0, name="lstm", dtype="float32")
        >>> list(cell.params)[:4], len(cell.params), cell.params["W_i"].dtype
        (['lstm/W_i', 'lstm/W_f', 'lstm/W_o', 'lstm/W_c'], 12, 'float32')
    """

    GATES = ("i", "f", "o", "c")
    kind = "lstm"

    def __init__(self, input_size: int, num_units: int, forget_bias: float = 1.0, seed: Any = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(input_size, num_units, name, dtype)
        self.forget_bias = float(forget_bias)
        self._gate_params(self.GATES, init.as_rng(seed))

    def zero_state(self, batch_size: Any, dtype: Any = None) -> State:
        dtype = dtype or self._dtype()
        return (T.zeros((batch_size, self.num_units), dtype=dtype), T.zeros((batch_size, self.num_units), dtype=dtype))

    def step(self, x_t: Variable, state: State) -> tuple[Variable, State]:
        x_t = self._check_input(x_t)
        c, h = _pair(state, "LSTMCell")
        with self._in("input_gate"):
            i = T.nnet.sigmoid(self._preact("i", x_t, h))
        with self._in("forget_gate"):
            f = T.nnet.sigmoid(self._preact("f", x_t, h) + self.forget_bias)
        with self._in("output_gate"):
            o = T.nnet.sigmoid(self._preact("o", x_t, h))
        with self._in("candidate"):
            candidate = T.tanh(self._preact("c", x_t, h))
        with self._in("cell"):
            c_new = f * c + i * candidate
        with self._in("hidden"):
            h_new = o * T.tanh(c_new)
        return h_new, (c_new, h_new)


class GRUCell(Cell):
    """A gated recurrent unit.

    With ``reset_after=False`` (TensorFlow 1's ``GRUCell``):
    ``h̃ = tanh(x·W_h + (r*h)·U_h + b_h)``; with ``reset_after=True`` (cuDNN and
    PyTorch): ``h̃ = tanh(x·W_h + b_h + r*(h·U_h + b_hn))``.  Either way
    ``z, r = σ(x·W + h·U + b)`` per gate and ``h' = z*h + (1-z)*h̃``.  The gate
    biases ``b_z`` and ``b_r`` start at 1.0, as in TensorFlow 1's ``GRUCell``.

    Example::

        >>> list(GRUCell(3, 5, seed=0, name="gru").params)
        ['gru/W_z', 'gru/W_r', 'gru/W_h', 'gru/U_z', 'gru/U_r', 'gru/U_h', 'gru/b_z', 'gru/b_r', 'gru/b_h']
        >>> list(GRUCell(3, 5, reset_after=True, seed=0, name="gru2").params)[-1]
        'gru2/b_hn'
    """

    GATES = ("z", "r", "h")
    kind = "gru"

    def __init__(self, input_size: int, num_units: int, reset_after: bool = False, seed: Any = None,
                 name: str | None = None, dtype: Any = None) -> None:
        super().__init__(input_size, num_units, name, dtype)
        self.reset_after = bool(reset_after)
        # Gate biases start at 1, as in TensorFlow 1's GRUCell: the update gate leans towards keeping the
        # state, which lets gradients flow over long spans from the first step of training.
        self._gate_params(self.GATES, init.as_rng(seed), bias={"z": 1.0, "r": 1.0})
        if self.reset_after:
            self._param("b_hn", init.zeros((num_units,), self.dtype))

    def step(self, x_t: Variable, state: State) -> tuple[Variable, State]:
        p = self.params
        x_t = self._check_input(x_t)
        h = state
        with self._in("update_gate"):
            z = T.nnet.sigmoid(self._preact("z", x_t, h))
        with self._in("reset_gate"):
            r = T.nnet.sigmoid(self._preact("r", x_t, h))
        with self._in("candidate"):
            if self.reset_after:
                candidate = T.tanh(T.dot(x_t, p["W_h"]) + p["b_h"] + r * (T.dot(h, p["U_h"]) + p["b_hn"]))
            else:
                candidate = T.tanh(T.dot(x_t, p["W_h"]) + T.dot(r * h, p["U_h"]) + p["b_h"])
        with self._in("hidden"):
            h_new = z * h + (1 - z) * candidate
        return h_new, h_new


def _pair(state: State, who: str) -> tuple[Variable, Variable]:
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise GraphTypeError(f"{who}: the state must be the pair (C, h), got {state!r} (at {user_line()})")
    return state[0], state[1]


class MultiRNNCell(Cell):
    """Cells stacked in layers: each layer's output is the next layer's input; the state is a tuple per layer.

    Example::

        >>> stack = MultiRNNCell([LSTMCell(3, 8, seed=0), LSTMCell(8, 8, seed=1)])
        >>> stack.input_size, stack.num_units, len(stack.params)
        (3, 8, 24)
    """

    kind = "stack"

    def __init__(self, cells: Sequence[Cell], name: str | None = None) -> None:
        cells = list(cells)
        if not cells:
            raise GraphTypeError(f"MultiRNNCell needs at least one cell (at {user_line()})")
        for k in range(1, len(cells)):
            if cells[k].input_size != cells[k - 1].output_size:
                raise GraphShapeError(f"MultiRNNCell: layer {k} expects input_size={cells[k].input_size} but layer "
                                      f"{k - 1} outputs {cells[k - 1].output_size} (at {user_line()})")
        super().__init__(cells[0].input_size, cells[-1].output_size, name, cells[0].dtype)
        self.cells = cells
        for cell in cells:  # each layer's parameters under its own full name (two layers named alike: an error)
            for key, var in cell.params.items():
                if key in self.params:
                    raise GraphTypeError(f"MultiRNNCell: two layers have a parameter named {key!r}; give the cells "
                                         f"distinct names (at {user_line()})")
                self.params[key] = var

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    def zero_state(self, batch_size: Any, dtype: Any = None) -> State:
        return tuple(cell.zero_state(batch_size, dtype) for cell in self.cells)

    def step(self, x_t: Variable, state: State) -> tuple[Variable, State]:
        if not isinstance(state, (tuple, list)) or len(state) != len(self.cells):
            raise GraphTypeError(f"MultiRNNCell: the state must have one entry per layer ({len(self.cells)}) "
                                 f"(at {user_line()})")
        new_states = []
        out = x_t
        for cell, s in zip(self.cells, state):
            out, s_new = cell.step(out, s)
            new_states.append(s_new)
        return out, tuple(new_states)


class DropoutWrapper(Cell):
    """Dropout on a cell's inputs and outputs, never on the recurrent path (TensorFlow 1's ``DropoutWrapper``).

    Kept units are scaled by ``1 / keep_prob``.  ``training`` is a shared flag:
    ``wrapper.set_training(False)`` turns dropout off in already compiled
    functions.  The random stream advances on every call by itself.  In
    ``rnn()`` the masks are drawn for all time steps at once (fresh per step);
    inside your own ``scan``, ``step`` draws one mask per call.

    Example::

        >>> cell = DropoutWrapper(LSTMCell(3, 5, seed=0), input_keep_prob=0.8, output_keep_prob=0.5, seed=1)
        >>> cell.set_training(False)
    """

    def __init__(self, cell: Cell, input_keep_prob: float = 1.0, output_keep_prob: float = 1.0,
                 seed: int = 0) -> None:
        for what, p in (("input_keep_prob", input_keep_prob), ("output_keep_prob", output_keep_prob)):
            if not 0.0 < p <= 1.0:
                raise GraphTypeError(f"DropoutWrapper: {what} must be in (0, 1], got {p!r} (at {user_line()})")
        with _absolute_scope(""):  # named after the cell it wraps, whose parameters it shares
            super().__init__(cell.input_size, cell.output_size, f"{cell.name}/dropout", cell.dtype)
        self.cell = cell
        self.input_keep_prob, self.output_keep_prob = float(input_keep_prob), float(output_keep_prob)
        self.params = cell.params
        self.stream = RandomStreams(seed)
        self.training = shared(np.int8(1), name=f"{self.name}/training")

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    def set_training(self, on: bool) -> None:
        """Turn dropout on (training) or off (evaluation)."""
        self.training.set_value(np.int8(bool(on)))

    def dropout(self, x: Variable, keep_prob: float) -> Variable:
        """``x`` times a fresh mask of kept units scaled by ``1/keep_prob`` (identity when not training)."""
        if keep_prob >= 1.0:
            return x
        x = as_tensor_variable(x)
        keep = self.stream.binomial([T.shape_i(x, a) for a in range(x.ndim)], p=keep_prob, dtype=x.dtype)
        return T.switch(self.training, x * keep / np.asarray(keep_prob, dtype=x.dtype), x)

    def zero_state(self, batch_size: Any, dtype: Any = None) -> State:
        return self.cell.zero_state(batch_size, dtype)

    def step(self, x_t: Variable, state: State) -> tuple[Variable, State]:
        with self._in():
            x_t = self.dropout(x_t, self.input_keep_prob)
        out, new_state = self.cell.step(x_t, state)
        with self._in():
            return self.dropout(out, self.output_keep_prob), new_state


# --------------------------------------------------------------------------- running cells over time


def _flatten(state: State) -> list[Variable]:
    if isinstance(state, (tuple, list)):
        return [v for s in state for v in _flatten(s)]
    return [as_tensor_variable(state)]


def _unflatten(template: State, flat: list[Variable]) -> State:
    it = iter(flat)

    def build(t: State) -> State:
        if isinstance(t, (tuple, list)):
            return tuple(build(s) for s in t)
        return next(it)

    return build(template)


def _check_sequence(inputs: Variable, cell: Cell, mask: Any) -> tuple[Variable, Variable | None]:
    inputs = as_tensor_variable(inputs)
    if inputs.ndim != 3:
        raise GraphTypeError(f"rnn: inputs must be time-major (T, B, {cell.input_size}), got {inputs.type!r} "
                             f"(at {user_line()})")
    if mask is None:
        return inputs, None
    mask = as_tensor_variable(mask)
    if mask.ndim != 2:
        raise GraphTypeError(f"rnn: the mask must be (T, B), got {mask.type!r} (at {user_line()})")
    mask = T.specify_shape(mask, (T.shape_i(inputs, 0), T.shape_i(inputs, 1)),  # a (B, T) mask is a clear error
                           hint="rnn: masks are time-major, (T, B), like the inputs' first two axes")
    return inputs, T.cast(mask, inputs.dtype)


def _time_major(inputs: Any, mask: Any) -> tuple[Variable, Any]:
    """Batch-major ``(B, T, I)`` inputs and ``(B, T)`` mask, swapped to time-major, each checked for its rank."""
    inputs = as_tensor_variable(inputs)
    if inputs.ndim != 3:
        raise GraphTypeError(f"rnn: with batch_first=True the inputs must be (B, T, features), got {inputs.type!r} "
                             f"(at {user_line()})")
    if mask is not None:
        mask = as_tensor_variable(mask)
        if mask.ndim != 2:
            raise GraphTypeError(f"rnn: with batch_first=True the mask must be (B, T), got {mask.type!r} "
                                 f"(at {user_line()})")
        mask = T.specify_shape(mask, (T.shape_i(inputs, 0), T.shape_i(inputs, 1)),
                               hint="rnn(batch_first=True): masks are (B, T), like the inputs' first two axes")
        mask = mask.dimshuffle(1, 0)
    return inputs.dimshuffle(1, 0, 2), mask


def rnn(cell: Cell, inputs: Any, initial_state: State | None = None, mask: Any = None,
        go_backwards: bool = False, batch_first: bool = False) -> tuple[Variable, State]:
    """Run ``cell`` over time-major ``inputs`` ``(T, B, I)`` with ``scan``: ``(outputs (T, B, H), final_state)``.

    With ``batch_first=True`` the inputs are ``(B, T, I)``, the mask ``(B, T)``
    and the outputs ``(B, T, H)``, as PyTorch's and Keras's.

    With a ``(T, B)`` ``mask`` (1 for real steps, 0 for padding) the state is
    carried over unchanged at padded steps, and so is the output, as in the
    LSTM sentiment-analysis tutorial.  Stacked cells run one layer (one loop)
    after another, and a ``DropoutWrapper``'s masks are drawn for all steps at
    once, outside the loop.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> cell = GRUCell(2, 4, seed=0)
        >>> x = T.tensor3("x")
        >>> outputs, h_last = rnn(cell, x)
        >>> symrnn.function([x], outputs)(np.ones((6, 3, 2))).shape
        (6, 3, 4)
    """
    if batch_first:
        inputs, mask = _time_major(inputs, mask)
        outputs, final = rnn(cell, inputs, initial_state, mask, go_backwards)
        return outputs.dimshuffle(1, 0, 2), final
    inputs, mask = _check_sequence(inputs, cell, mask)
    if isinstance(cell, MultiRNNCell):
        states = initial_state if initial_state is not None else (None,) * len(cell.cells)
        if len(states) != len(cell.cells):
            raise GraphTypeError(f"rnn: the initial state needs one entry per layer ({len(cell.cells)}) "
                                 f"(at {user_line()})")
        finals = []
        out = inputs
        for layer, s0 in zip(cell.cells, states):
            out, final = rnn(layer, out, s0, mask, go_backwards)
            finals.append(final)
        return out, tuple(finals)
    if isinstance(cell, DropoutWrapper):
        outputs, final = rnn(cell.cell, cell.dropout(inputs, cell.input_keep_prob), initial_state, mask,
                             go_backwards)
        return cell.dropout(outputs, cell.output_keep_prob), final
    if initial_state is None:
        with cell._in():
            initial_state = cell.zero_state(T.shape_i(inputs, 1), dtype=inputs.dtype)
    template = initial_state
    flat_init = _flatten(initial_state)
    n_state = len(flat_init)

    def step(*args: Variable) -> list[Variable]:
        x_t, rest = args[0], list(args[1:])
        m_t = rest.pop(0) if mask is not None else None
        prev = rest[:n_state]
        out, new_state = cell.step(x_t, _unflatten(template, prev))
        new_flat = _flatten(new_state)
        if len(new_flat) != n_state:
            raise GraphTypeError(f"rnn: {type(cell).__name__}.step returned a state with {len(new_flat)} part(s), "
                                 f"the initial state has {n_state}")
        if m_t is None:
            return [*new_flat, out]
        # Padded steps carry the state, and the output, over unchanged.
        keep = m_t.dimshuffle(0, "x")
        prev_out = rest[n_state]
        return [keep * n + (1 - keep) * p for n, p in zip([*new_flat, out], [*prev, prev_out])]

    sequences = [inputs] if mask is None else [inputs, mask]
    if mask is None:
        outputs_info = [*flat_init, None]
    else:
        outputs_info = [*flat_init, T.zeros((T.shape_i(inputs, 1), cell.output_size), dtype=inputs.dtype)]
    with cell._in():
        results, _ = scan(step, sequences=sequences, outputs_info=outputs_info, go_backwards=go_backwards,
                          name=cell.name, return_list=True)
    with cell._in():
        outputs = results[-1]
        if go_backwards:
            outputs = outputs[::-1]
        final = _unflatten(template, [r[-1] for r in results[:-1]])
    return outputs, final


def bidirectional_rnn(cell_fw: Cell, cell_bw: Cell, inputs: Any, initial_state_fw: State | None = None,
                      initial_state_bw: State | None = None, mask: Any = None,
                      batch_first: bool = False) -> tuple[tuple[Variable, Variable], tuple[State, State]]:
    """Run one cell forwards and one backwards in time: ``((outputs_fw, outputs_bw), (final_fw, final_bw))``.

    Both outputs are aligned with the inputs' time axis.  With a mask, the
    backward cell starts at each sequence's last real step (padding at the end
    is skipped, carrying the initial state), as TensorFlow's
    ``bidirectional_dynamic_rnn`` does with sequence lengths.

    Example::

        >>> import symrnn.tensor as T
        >>> (fw, bw), _ = bidirectional_rnn(RNNCell(2, 3, seed=0), RNNCell(2, 3, seed=1), T.tensor3("x"))
        >>> T.concatenate([fw, bw], axis=2).ndim
        3
    """
    out_fw, final_fw = rnn(cell_fw, inputs, initial_state_fw, mask, batch_first=batch_first)
    out_bw, final_bw = rnn(cell_bw, inputs, initial_state_bw, mask, go_backwards=True, batch_first=batch_first)
    return (out_fw, out_bw), (final_fw, final_bw)


__all__ = ["Cell", "RNNCell", "LSTMCell", "GRUCell", "MultiRNNCell", "DropoutWrapper", "rnn", "bidirectional_rnn"]
