"""``scan_checkpoints``: trade recomputation for memory in backpropagation through time.

The loop runs as an outer scan over chunks of ``save_every_N`` steps, each an
inner scan.  The outer scan saves nothing for its gradient beyond the states at
chunk boundaries (``save_residuals=False``): its backward step recomputes one
chunk's forward pass, saving that chunk's per-step values, and backpropagates
through it.  Memory for saved values drops from O(T) to O(T / N + N) steps'
worth; the forward pass runs twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from symrnn.graph import GraphTypeError, Variable, as_tensor_variable, user_line
from symrnn.ops.elemwise import int_div, lt, minimum, switch
from symrnn.ops.shape import arange, concatenate, reshape, shape_i, zeros
from symrnn.scan.basic import _as_list, scan


def scan_checkpoints(fn: Callable[..., Any], sequences: Any = None, outputs_info: Any = None,
                     non_sequences: Any = None, n_steps: Any = None, save_every_N: int = 10,
                     name: str = "checkpoints", return_all: bool = True) -> tuple[Any, dict]:
    """Like :func:`symrnn.scan`, but the gradient keeps only every ``save_every_N``-th state (Theano's name).

    Supported: plain sequences (no taps) and recurrent outputs with one tap
    (a variable in ``outputs_info``); the step function returns one new value
    per state and no updates.  The outputs are the same as ``scan``'s; with
    ``return_all=False`` they are only the states at the end of each chunk
    (Theano's ``scan_checkpoints``), which keeps memory at O(T/N + N) steps.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> x, h0 = T.dmatrix("x"), T.dvector("h0")
        >>> hs, _ = scan_checkpoints(lambda x_t, h: T.tanh(x_t + h), sequences=x, outputs_info=h0,
        ...                          save_every_N=4)
        >>> symrnn.function([x, h0], hs)(np.zeros((10, 2)), np.ones(2)).shape
        (10, 2)
    """
    where = user_line()
    if not isinstance(save_every_N, int) or save_every_N < 1:
        raise GraphTypeError(f"scan_checkpoints: save_every_N must be a positive int, got {save_every_N!r} "
                             f"(at {where})")
    seqs = [as_tensor_variable(s) for s in _as_list(sequences)]
    inits = _as_list(outputs_info)
    if any(isinstance(s, dict) for s in _as_list(sequences)) or any(
            i is None or isinstance(i, dict) for i in inits):
        raise GraphTypeError("scan_checkpoints supports plain sequences and outputs_info entries that are initial "
                             f"values (tap -1) only (at {where})")
    inits = [as_tensor_variable(i) for i in inits]
    nonseqs = _as_list(non_sequences)
    if not seqs and n_steps is None:
        raise GraphTypeError(f"scan_checkpoints: without sequences, n_steps must be given (at {where})")
    if n_steps is not None:
        length = as_tensor_variable(n_steps)
    else:
        length = shape_i(seqs[0], 0)
        for seq in seqs[1:]:
            length = minimum(length, shape_i(seq, 0))
    chunk = save_every_N
    n_chunks = int_div(length + (chunk - 1), chunk)
    padded = n_chunks * chunk

    def chunked(seq: Variable) -> Variable:
        trimmed = seq[:length]
        rest = [shape_i(seq, a) for a in range(1, seq.ndim)]
        padding = zeros([padded - length, *rest], dtype=seq.dtype)
        return reshape(concatenate([trimmed, padding]), [n_chunks, chunk, *rest])

    mask = reshape(lt(arange(padded), length), [n_chunks, chunk])
    n_seqs, n_states = len(seqs), len(inits)

    def outer_step(*args: Variable) -> list[Variable]:
        chunk_seqs, chunk_mask = list(args[:n_seqs]), args[n_seqs]
        prev = list(args[n_seqs + 1: n_seqs + 1 + n_states])
        inner_nonseqs = list(args[n_seqs + 1 + n_states:])

        def inner_step(*inner_args: Variable) -> list[Variable]:
            x_t, m_t = list(inner_args[:n_seqs]), inner_args[n_seqs]
            states = list(inner_args[n_seqs + 1: n_seqs + 1 + n_states])
            result = fn(*x_t, *states, *inner_nonseqs)
            outs = list(result) if isinstance(result, (list, tuple)) else [result]
            if len(outs) != n_states or any(not isinstance(o, Variable) for o in outs):
                raise GraphTypeError(f"scan_checkpoints: the step function must return exactly {n_states} new "
                                     f"state(s) and nothing else (at {where})")
            # Padded steps past the end leave the state unchanged, so the final state is exact.
            return [switch(m_t, o, s) for o, s in zip(outs, states)]

        results, _ = scan(inner_step, sequences=[*chunk_seqs, chunk_mask], outputs_info=prev,
                          non_sequences=inner_nonseqs, n_steps=chunk, name=f"{name}_chunk", return_list=True)
        return [r[-1] for r in results] + (results if return_all else [])

    outer, updates = scan(outer_step, sequences=[*[chunked(s) for s in seqs], mask],
                          outputs_info=[*inits, *([None] * n_states if return_all else [])], non_sequences=nonseqs,
                          n_steps=n_chunks, name=name, return_list=True, _save_residuals=False)
    if not return_all:
        return (outer[0] if n_states == 1 else outer), updates
    outputs = []
    for full in outer[n_states:]:
        rest = [shape_i(full, a) for a in range(2, full.ndim)]
        outputs.append(reshape(full, [padded, *rest])[:length])
    return (outputs[0] if len(outputs) == 1 else outputs), updates
