"""A hand-written NumPy LSTM (forward and backpropagation through time): the reference symrnn must match.

It computes exactly what ``symrnn.nn.LSTMCell`` run by ``symrnn.nn.rnn`` computes
from a zero initial state, with ``loss = mean(h ** 2)`` over all outputs
``(T, B, H)``::

    i = σ(x·W_i + h·U_i + b_i)        f = σ(x·W_f + h·U_f + b_f + forget_bias)
    o = σ(x·W_o + h·U_o + b_o)        C̃ = tanh(x·W_c + h·U_c + b_c)
    C' = f*C + i*C̃                    h' = o*tanh(C')

and it is written to be fast, with the techniques of issue 5:

- the four gates are packed into one ``(I, 4H)`` and one ``(H, 4H)`` matrix
  (gate order ``i, f, o, c``), and every input projection is **one GEMM**
  before the loop: ``(T*B, I) @ (I, 4H)``;
- every step does **one fused 4-gate GEMM**, ``h @ U_all``, and the rest of the
  step is NumPy ufuncs writing into preallocated buffers (``out=``), so a step
  allocates nothing;
- ``σ(z) = 0.5 + 0.5·tanh(z/2)``: the sigmoid gates' columns of the packed
  weights are pre-scaled by 0.5 (exact in binary floating point), so one
  ``tanh`` call covers all four gates and the sigmoids need only ``*0.5, +0.5``;
- the backward pass computes the gates' local derivatives for a chunk of
  steps at once (a few ufunc calls on cache-sized blocks instead of many tiny
  ones; ``CHUNK_BYTES``), so each step does only a handful of small ufuncs
  and ``dA_t @ U_all.T`` (with a C-ordered copy of ``U_all.T``), writing ``dA_t`` over the gates it no
  longer needs;
- the weight gradients are computed after the loop as single large GEMMs:
  ``dW = X^T dA``, ``dU = H_prev^T dA``, ``db = dA.sum(0)``;
- the loss's ``2/N`` factor is applied once, to the weight gradients, instead
  of to every step's seed (backpropagation is linear in the seed).

Buffers are allocated per call (as a compiled function allocates them), so
``tracemalloc`` sees the same kind of memory use in both.

``params`` is a dict of per-gate arrays with ``LSTMCell``'s names: ``W_i W_f
W_o W_c`` ``(I, H)``, ``U_i ...`` ``(H, H)``, ``b_i ...`` ``(H,)``; ``x`` is
time-major ``(T, B, I)``.  The dtype of ``x`` is the working dtype.

Example::

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> I, H = 3, 4
    >>> params = {f"{k}_{g}": rng.normal(size=(I if k == "W" else H, H) if k != "b" else (H,))
    ...           for k in "WUb" for g in "ifoc"}
    >>> x = rng.normal(size=(5, 2, I))
    >>> loss, grads = train_step(params, x)
    >>> bool(np.isclose(loss, forward(params, x))), grads["U_f"].shape
    (True, (4, 4))
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

GATES = ("i", "f", "o", "c")  # the packed order: the three sigmoid gates first, then the candidate
#: The backward pass works through the steps in chunks of about this many bytes of gates (cache-sized).
CHUNK_BYTES = 1 << 19


def _pack(params: Mapping[str, np.ndarray], forget_bias: float,
          dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(W_s, U_s, b_s, U_all)``: the packed weights, with the sigmoid gates' columns halved in ``*_s``."""
    H = np.shape(params["U_i"])[0]
    W_s = np.concatenate([np.asarray(params[f"W_{g}"], dtype) for g in GATES], axis=1)
    U_all = np.concatenate([np.asarray(params[f"U_{g}"], dtype) for g in GATES], axis=1)
    b_s = np.concatenate([np.asarray(params[f"b_{g}"], dtype) for g in GATES])
    b_s[H:2 * H] += forget_bias
    U_s = U_all.copy()
    W_s[:, :3 * H] *= 0.5
    U_s[:, :3 * H] *= 0.5
    b_s[:3 * H] *= 0.5
    return W_s, U_s, b_s, U_all


def _check(params: Mapping[str, np.ndarray], x: np.ndarray) -> tuple[int, int, int, int]:
    if x.ndim != 3:
        raise ValueError(f"x must be time-major (T, B, I), got shape {x.shape}")
    n_steps, batch, n_in = x.shape
    H = np.shape(params["U_i"])[0]
    for g in GATES:
        for key, shape in ((f"W_{g}", (n_in, H)), (f"U_{g}", (H, H)), (f"b_{g}", (H,))):
            if np.shape(params[key]) != shape:
                raise ValueError(f"params[{key!r}] has shape {np.shape(params[key])}, expected {shape}")
    return n_steps, batch, n_in, H


def _step_forward(z: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray, U_s: np.ndarray, zh: np.ndarray,
                  c_out: np.ndarray, tanh_c_out: np.ndarray, h_out: np.ndarray, tmp: np.ndarray, H: int) -> None:
    """One step, in place: ``z`` ``(B, 4H)`` holds ``x_t·W_s + b_s`` and becomes the gate activations."""
    np.matmul(h_prev, U_s, out=zh)
    np.add(z, zh, out=z)
    np.tanh(z, out=z)
    sig = z[:, :3 * H]
    np.multiply(sig, 0.5, out=sig)
    np.add(sig, 0.5, out=sig)
    i, f, o, g = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
    np.multiply(f, c_prev, out=c_out)
    np.multiply(i, g, out=tmp)
    np.add(c_out, tmp, out=c_out)
    np.tanh(c_out, out=tanh_c_out)
    np.multiply(o, tanh_c_out, out=h_out)


def _local_derivatives(gates: np.ndarray, tanh_cs: np.ndarray, c_prev: np.ndarray, dc_coef: np.ndarray,
                       H: int) -> None:
    """The gates' local derivatives for a chunk of steps, in place, so that each backward step is a few ufuncs:

    - ``dc   = dc_next + dh * o*(1 - tanh(C)^2)``: the factor goes to ``dc_coef``;
    - ``dA_o = dh * o*(1-o)*tanh(C)``: the factor replaces o;
    - ``dA_i = dc * i*(1-i)*C̃``: the factor goes to ``tanh_cs`` (no longer needed);
    - ``dA_f = dc * f*(1-f)*C_prev``: the factor goes to ``c_prev``; f stays, for ``dc_next = dc * f``;
    - ``dA_c = dc * i*(1 - C̃^2)``: the factor replaces C̃.
    """
    i, f, o, g = gates[..., :H], gates[..., H:2 * H], gates[..., 2 * H:3 * H], gates[..., 3 * H:]
    np.multiply(tanh_cs, tanh_cs, out=dc_coef)
    np.subtract(1, dc_coef, out=dc_coef)
    np.multiply(dc_coef, o, out=dc_coef)
    np.multiply(tanh_cs, o, out=tanh_cs)
    np.subtract(1, o, out=o)
    np.multiply(o, tanh_cs, out=o)
    np.subtract(1, i, out=tanh_cs)
    np.multiply(tanh_cs, i, out=tanh_cs)
    np.multiply(tanh_cs, g, out=tanh_cs)
    np.multiply(g, g, out=g)
    np.subtract(1, g, out=g)
    np.multiply(g, i, out=g)
    np.subtract(1, f, out=i)
    np.multiply(i, f, out=i)
    np.multiply(c_prev, i, out=c_prev)


def _input_projection(x: np.ndarray, W_s: np.ndarray, b_s: np.ndarray) -> np.ndarray:
    """``x·W_s + b_s`` for every step at once: one ``(T*B, I) @ (I, 4H)`` GEMM, as ``(T, B, 4H)``."""
    n_steps, batch, n_in = x.shape
    z = np.matmul(x.reshape(n_steps * batch, n_in), W_s)
    np.add(z, b_s, out=z)
    return z.reshape(n_steps, batch, -1)


def forward(params: Mapping[str, np.ndarray], x: np.ndarray, forget_bias: float = 1.0,
            return_outputs: bool = False) -> float | tuple[float, np.ndarray]:
    """The loss ``mean(h ** 2)`` (and, with ``return_outputs``, the outputs ``(T, B, H)``), keeping no state
    for a backward pass."""
    x = np.asarray(x)
    n_steps, batch, _, H = _check(params, x)
    dtype = x.dtype
    W_s, U_s, b_s, _ = _pack(params, forget_bias, dtype)
    z = _input_projection(x, W_s, b_s)
    hs = np.empty((n_steps + 1, batch, H), dtype)
    hs[0] = 0
    c = np.zeros((batch, H), dtype)
    zh = np.empty((batch, 4 * H), dtype)
    tanh_c = np.empty((batch, H), dtype)
    tmp = np.empty((batch, H), dtype)
    for t in range(n_steps):
        _step_forward(z[t], hs[t], c, U_s, zh, c, tanh_c, hs[t + 1], tmp, H)
    flat = hs[1:].reshape(-1)
    loss = float(np.dot(flat, flat)) / flat.size
    return (loss, hs[1:]) if return_outputs else loss


def train_step(params: Mapping[str, np.ndarray], x: np.ndarray,
               forget_bias: float = 1.0) -> tuple[float, dict[str, np.ndarray]]:
    """The loss ``mean(h ** 2)`` and its gradient with respect to every weight (a dict keyed like ``params``)."""
    x = np.asarray(x)
    n_steps, batch, n_in, H = _check(params, x)
    dtype = x.dtype
    W_s, U_s, b_s, U_all = _pack(params, forget_bias, dtype)

    # ---- forward: keep the gates (in the projection buffer), every C, tanh(C) and h
    gates = _input_projection(x, W_s, b_s)          # (T, B, 4H): pre-activations, then activations, then dA
    cs = np.empty((n_steps + 1, batch, H), dtype)   # C_0 = 0, ..., C_T
    tanh_cs = np.empty((n_steps, batch, H), dtype)
    hs = np.empty((n_steps + 1, batch, H), dtype)   # h_0 = 0, ..., h_T
    cs[0] = 0
    hs[0] = 0
    zh = np.empty((batch, 4 * H), dtype)
    tmp = np.empty((batch, H), dtype)
    for t in range(n_steps):
        _step_forward(gates[t], hs[t], cs[t], U_s, zh, cs[t + 1], tanh_cs[t], hs[t + 1], tmp, H)
    flat = hs[1:].reshape(-1)
    n = flat.size
    loss = float(np.dot(flat, flat)) / n

    # ---- backward through time, seeded with dh = h (the 2/N factor is applied to the weight gradients),
    # a chunk of steps at a time: first the chunk's local derivatives in a few ufunc calls, then its steps.
    chunk = max(1, min(n_steps, CHUNK_BYTES // (batch * 4 * H * dtype.itemsize)))
    dc_coef = np.empty((chunk, batch, H), dtype)
    dh = np.empty((batch, H), dtype)
    dh_next = np.zeros((batch, H), dtype)
    dc = np.empty((batch, H), dtype)
    dc_next = np.zeros((batch, H), dtype)
    U_all_T = np.ascontiguousarray(U_all.T)  # OpenBLAS multiplies by a C-ordered copy up to 2x faster
    for stop in range(n_steps, 0, -chunk):
        start = max(0, stop - chunk)
        gs, coef, c_prev, tc = gates[start:stop], dc_coef[:stop - start], cs[start:stop], tanh_cs[start:stop]
        _local_derivatives(gs, tc, c_prev, coef, H)
        i, f, o, g = gs[..., :H], gs[..., H:2 * H], gs[..., 2 * H:3 * H], gs[..., 3 * H:]
        for k in range(stop - start - 1, -1, -1):
            t = start + k
            np.add(hs[t + 1], dh_next, out=dh)
            np.multiply(dh, coef[k], out=dc)
            np.add(dc, dc_next, out=dc)
            np.multiply(o[k], dh, out=o[k])
            np.multiply(dc, f[k], out=dc_next)
            np.multiply(dc, c_prev[k], out=f[k])
            np.multiply(dc, tc[k], out=i[k])
            np.multiply(g[k], dc, out=g[k])
            if t:  # the gradient with respect to h_0 is not needed
                np.matmul(gs[k], U_all_T, out=dh_next)

    # ---- weight gradients: one GEMM each over all steps
    d_a = gates.reshape(n_steps * batch, 4 * H)
    scale = dtype.type(2.0 / n)
    dW = np.matmul(x.reshape(n_steps * batch, n_in).T, d_a)
    dU = np.matmul(hs[:n_steps].reshape(n_steps * batch, H).T, d_a)
    db = d_a.sum(axis=0)
    grads: dict[str, np.ndarray] = {}
    for kind, full in (("W", dW), ("U", dU), ("b", db)):
        np.multiply(full, scale, out=full)
        for k, gate in enumerate(GATES):
            grads[f"{kind}_{gate}"] = np.ascontiguousarray(full[..., k * H:(k + 1) * H])
    return loss, grads


__all__ = ["forward", "train_step", "GATES"]
