"""scan_checkpoints: the same outputs and gradients as scan, with fewer values saved for the backward pass."""

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn.graph import GraphTypeError
from symrnn.scan.checkpoints import scan_checkpoints


def rnn_step(x_t, h, W, U):
    return T.tanh(T.dot(x_t, W) + T.dot(h, U))


def build(use_checkpoints, every=3, return_all=True):
    rng = np.random.default_rng(0)
    W = symrnn.shared(rng.normal(size=(3, 4)) * 0.5, name="W")
    U = symrnn.shared(rng.normal(size=(4, 4)) * 0.5, name="U")
    x, h0 = T.tensor3("x"), T.matrix("h0")
    if use_checkpoints:
        hs, _ = scan_checkpoints(rnn_step, sequences=x, outputs_info=h0, non_sequences=[W, U],
                                 save_every_N=every, return_all=return_all)
    else:
        hs, _ = symrnn.scan(rnn_step, sequences=x, outputs_info=h0, non_sequences=[W, U])
    cost = (hs[-1] ** 2).sum() + (0 if not return_all else (hs ** 2).mean())
    grads = symrnn.grad(cost, [W, U, x, h0])
    return [x, h0], [hs, cost, *grads], W, U


@pytest.mark.parametrize("steps, every", [(7, 3), (6, 3), (1, 4), (5, 1), (5, 8)])
@pytest.mark.parametrize("mode", ["FAST_RUN", "reference"])
def test_same_outputs_and_gradients_as_scan(steps, every, mode):
    rng = np.random.default_rng(steps * 10 + every)
    xv, hv = rng.normal(size=(steps, 2, 3)), rng.normal(size=(2, 4))
    inputs, plain_out, *_ = build(False)
    want = symrnn.function(inputs, plain_out, mode=mode)(xv, hv)
    inputs, ckpt_out, *_ = build(True, every)
    got = symrnn.function(inputs, ckpt_out, mode=mode)(xv, hv)
    for a, b in zip(want, got):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12)


def test_return_all_false_gives_the_chunk_end_states():
    rng = np.random.default_rng(1)
    xv, hv = rng.normal(size=(7, 2, 3)), rng.normal(size=(2, 4))
    inputs, plain_out, *_ = build(False)
    every_step = symrnn.function(inputs, plain_out[0])(xv, hv)
    inputs, outs, *_ = build(True, every=3, return_all=False)
    chunk_ends = symrnn.function(inputs, outs[0])(xv, hv)
    np.testing.assert_allclose(chunk_ends, every_step[[2, 5, 6]], rtol=1e-12)


def test_backward_recomputes_the_forward_loop():
    inputs, outs, *_ = build(True, every=3)
    f = symrnn.function(inputs, outs)
    # outer forward with its inner chunk loop, outer backward with the recomputed chunk and its backward loop
    assert f.source.count(" begins: ") == 5  # "# scan NAME begins: ..." marks each loop


def test_arguments_are_checked():
    x, h0 = T.matrix("x"), T.vector("h0")
    with pytest.raises(GraphTypeError, match="save_every_N"):
        scan_checkpoints(lambda x_t, h: x_t + h, sequences=x, outputs_info=h0, save_every_N=0)
    with pytest.raises(GraphTypeError, match="initial values"):
        scan_checkpoints(lambda x_t: x_t, sequences=x, outputs_info=[None])
    with pytest.raises(GraphTypeError, match="exactly 1 new state"):
        scan_checkpoints(lambda x_t, h: (x_t + h, h), sequences=x, outputs_info=h0)
