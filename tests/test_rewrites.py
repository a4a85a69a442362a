"""Each FAST_RUN rewrite: the graph before and after, and the same numbers as the reference interpreter."""

import os

import numpy as np
import pytest
from helpers import assert_fast_run_matches_reference, lstm_training_graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.graph import Constant, clone_replace, toposort
from symrnn.ops.blas import Dot
from symrnn.ops.shape import Alloc, DimShuffle
from symrnn.rewrite import optimize
from symrnn.rewrite.canonical import (
    elemwise_of_filled,
    fold_constants,
    merge_dimshuffles,
    remove_double_negation,
    remove_identity_arithmetic,
    shape_of_elementwise,
    spelled_out_sigmoid,
    square_and_sqrt_powers,
    stable_log_sigmoid,
    switch_on_constant,
)
from symrnn.rewrite.engine import apply_local_rewrites, merge
from symrnn.rewrite.fusion import fuse_elementwise, sum_in_blocks
from symrnn.rewrite.gemm import merge_sibling_dots, merge_summed_dots
from symrnn.rewrite.loops import (
    accumulate_after_loop,
    prune_loop_outputs,
    push_out_invariants,
    push_out_sequence_work,
    reuse_state_buffers,
    save_sliced_outputs_once,
    sink_elementwise_sequences,
)
from symrnn.rewrite.slices import group_invariant_terms, merge_sibling_slices, slice_of
from symrnn.scan.op import Scan

FUZZ_SCALE = int(os.environ.get("SYMRNN_FUZZ_SCALE", "1"))  # tests/test_random_graphs.py


def ops(outputs):
    return [str(n.op) for n in toposort(outputs)]


def names(outputs):
    return [getattr(n.op, "name", type(n.op).__name__) for n in toposort(outputs)]


def same_numbers(inputs, before, after, values, rtol=1e-12):
    """The rewritten graph computes what the original computes (both run by the reference interpreter)."""
    want = symrnn.function(inputs, before, mode="reference", on_unused_input="ignore")(*values)
    got = symrnn.function(inputs, after, mode="reference", on_unused_input="ignore")(*values)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-12)


def loops(outputs):
    return [n for n in toposort(outputs) if isinstance(n.op, Scan)]


def inner_ops(scan_node):
    return [getattr(n.op, "name", type(n.op).__name__) for n in scan_node.op.inner_nodes]


X = np.random.default_rng(0).normal(size=(3, 4))


# --------------------------------------------------------------------------- merge, folding, dead code

def test_merge_shares_equal_subexpressions_and_constants():
    x = T.matrix("x")
    before = [T.exp(x) * 2.0 + T.exp(x) * 2.0]
    after = merge(before)
    assert names(before).count("exp") == 2 and names(after).count("exp") == 1
    assert names(after).count("mul") == 1
    same_numbers([x], before, after, [X])


def test_fold_constants_and_dead_code():
    x = T.matrix("x")
    before = [x + (T.constant(2.0) * 3.0 + T.constant(1.0))]
    after = apply_local_rewrites(before, [fold_constants])
    assert names(before) == ["mul", "add", "add"] and names(after) == ["add"]
    folded = [v for v in after[0].owner.inputs if isinstance(v, Constant)]
    assert folded and float(folded[0].data) == 7.0
    same_numbers([x], before, after, [X])
    unused = T.exp(x)  # built but not an output: it never reaches the compiled code
    f = symrnn.function([x], x * 2)
    assert "exp" not in f.source and unused is not None


def test_fold_keeps_large_results_and_random_draws_out():
    big = [T.zeros((200, 100))]
    assert names(apply_local_rewrites(big, [fold_constants])) == ["Alloc"]
    from symrnn.tensor.shared_randomstreams import RandomStreams

    stream = RandomStreams(0)
    draw = [stream.uniform((2,))]
    assert apply_local_rewrites(draw, [fold_constants])[0] is draw[0]


# --------------------------------------------------------------------------- canonical forms

@pytest.mark.parametrize("build, rewrite, gone", [
    (lambda x: x * 1.0, remove_identity_arithmetic, "mul"),
    (lambda x: 0.0 + x, remove_identity_arithmetic, "add"),
    (lambda x: x / 1.0, remove_identity_arithmetic, "true_div"),
    (lambda x: T.neg(T.neg(x)), remove_double_negation, "neg"),
    (lambda x: x ** 2, square_and_sqrt_powers, "pow"),
    (lambda x: abs(x) ** 0.5, square_and_sqrt_powers, "pow"),
    (lambda x: T.switch(np.array(False), 1.0, x), switch_on_constant, "switch"),
    (lambda x: T.switch(np.ones((1, 1), bool), x, 2 * x), switch_on_constant, "switch"),
])
def test_canonical_rewrites(build, rewrite, gone):
    x = T.matrix("x")
    before = [build(x)]
    after = apply_local_rewrites(before, [rewrite])
    assert gone in names(before) and gone not in names(after)
    same_numbers([x], before, after, [X])


def test_switch_keeps_a_mixed_condition_and_a_broadcasting_branch():
    x = T.matrix("x")
    mixed = [T.switch(np.array([[True, False, True, False]]), x, 0.0)]
    assert apply_local_rewrites(mixed, [switch_on_constant])[0] is mixed[0]
    broadcast = [T.switch(np.array(True), 1.0, x)]  # the chosen branch is a scalar: the output is a matrix
    assert apply_local_rewrites(broadcast, [switch_on_constant])[0] is broadcast[0]


def test_identity_arithmetic_keeps_broadcasting_multiplications():
    v = T.vector("v")
    before = [v * T.ones((3, 1))]  # multiplying by ones broadcasts: not an identity
    assert apply_local_rewrites(before, [remove_identity_arithmetic])[0] is before[0]


def test_merge_dimshuffles():
    x = T.tensor3("x")
    before = [x.dimshuffle(2, 0, 1).dimshuffle(1, 2, 0), x.dimshuffle(1, 0, 2).dimshuffle("x", 2, 1, 0)]
    after = apply_local_rewrites(before, [merge_dimshuffles])
    assert after[0] is x
    assert sum(isinstance(n.op, DimShuffle) for n in toposort(after)) == 1
    same_numbers([x], before, after, [np.arange(24.0).reshape(2, 3, 4)])


def test_filled_operands_become_broadcast_constants():
    x = T.matrix("x")
    filled = T.alloc(2.0, x.shape[0], x.shape[1])
    before = [filled * x]
    after = apply_local_rewrites(before, [elemwise_of_filled])
    assert any(isinstance(n.op, Alloc) for n in toposort(before))
    assert not any(isinstance(n.op, Alloc) for n in toposort(after))
    same_numbers([x], before, after, [X])


def test_filled_with_the_shape_of_a_related_value():
    x, scale = T.matrix("x"), T.scalar("scale")
    square = x ** 2  # the gradient of mean(x ** 2) fills 1/N in the shape of x ** 2, then multiplies by 2 * x
    before = [T.alloc(scale, square.shape[0], square.shape[1]) * (2 * x)]
    after = apply_local_rewrites(before, [elemwise_of_filled])
    assert any(isinstance(n.op, Alloc) for n in toposort(before))
    assert not any(isinstance(n.op, Alloc) for n in toposort(after))
    same_numbers([x, scale], before, after, [X, 0.25])
    other = T.matrix("other")  # the shape of an unrelated matrix is not the shape of x
    kept = [T.alloc(scale, other.shape[0], other.shape[1]) * x]
    assert apply_local_rewrites(kept, [elemwise_of_filled])[0] is kept[0]


def test_stabilizing_rewrites_make_overflowing_expressions_finite():
    z = T.vector("z")
    p = 1 / (1 + T.exp(-z))
    before = [p, T.log.op(1 - p)]  # the raw op: T.log itself already builds the stable form
    after = apply_local_rewrites(before, [spelled_out_sigmoid, stable_log_sigmoid])
    assert "sigmoid" in names(after)
    values = np.array([-40.0, 0.3, 40.0])
    with np.errstate(all="ignore"):
        unstable = symrnn.function([z], before[1], mode="FAST_COMPILE")(values)
    stable = symrnn.function([z], after[1], mode="FAST_COMPILE")(values)
    assert np.isinf(unstable[-1]) and np.isfinite(stable).all()
    np.testing.assert_allclose(stable, -np.logaddexp(0, values), rtol=1e-12)


# --------------------------------------------------------------------------- loops

def rnn_graph(steps_W=True):
    rng = np.random.default_rng(1)
    W = symrnn.shared(rng.normal(size=(3, 4)) * 0.5, name="W", shape=(3, 4))
    U = symrnn.shared(rng.normal(size=(4, 4)) * 0.5, name="U", shape=(4, 4))
    x, h0 = T.tensor3("x"), T.matrix("h0")
    hs, _ = symrnn.scan(lambda x_t, h: T.tanh(T.dot(x_t, W) + T.dot(h, U.T)), sequences=x, outputs_info=h0)
    cost = (hs ** 2).sum()
    return [x, h0], [cost, *symrnn.grad(cost, [W, U])]


RNN_VALUES = [np.random.default_rng(2).normal(size=(5, 2, 3)), np.random.default_rng(3).normal(size=(2, 4))]


def backward_loop(outputs):
    return [n for n in loops(outputs) if n.op.info.name.startswith("grad_of")][0]


def test_push_out_invariants_hoists_the_transpose():
    def invariant_transposes(scan_node):
        op = scan_node.op
        nonseqs = {id(v) for v in op.inner_inputs[op.inner_slices()["nonseqs"]]}
        return [n for n in op.inner_nodes if isinstance(n.op, DimShuffle) and id(n.inputs[0]) in nonseqs]

    inputs, outputs = rnn_graph()  # the backward loop computes Uᵀ from its non-sequence U at every step
    assert invariant_transposes(backward_loop(outputs))
    after = apply_local_rewrites(outputs, [push_out_invariants])
    assert not invariant_transposes(backward_loop(after))
    same_numbers(inputs, outputs, after, RNN_VALUES)


def test_push_out_sequence_work_batches_the_input_projection():
    inputs, outputs = rnn_graph()
    forward = loops(outputs)[0]
    assert inner_ops(forward).count("dot") == 2
    after = apply_local_rewrites(outputs, [push_out_sequence_work])
    assert inner_ops(loops(after)[0]).count("dot") == 1  # only h·U stays in the loop
    outer_dots = [n for n in toposort(after) if isinstance(n.op, Dot) and n.inputs[0].ndim == 3]
    assert outer_dots  # x·W over all steps at once
    same_numbers(inputs, outputs, after, RNN_VALUES)


def test_accumulate_after_loop_moves_weight_gradients_out():
    inputs, outputs = rnn_graph()
    merged = prune_loop_outputs(merge(outputs))
    backward = backward_loop(merged)
    assert inner_ops(backward).count("dot") == 3  # d·U for the state, and the running sums of xᵀd and hᵀd
    after = apply_local_rewrites(merged, [accumulate_after_loop])
    new_backward = backward_loop(after)
    assert inner_ops(new_backward).count("dot") == 1
    assert len(new_backward.op.info.state_taps) < len(backward.op.info.state_taps)
    # d is saved last step first, so that the products pair it with x and h in time order: no reversed copy
    assert any(new_backward.op.info.reversed_rows)
    products = [n for n in toposort(after) if isinstance(n.op, Dot) and n.inputs[1].owner is not None
                and n.inputs[1].owner.inputs[0] in new_backward.outputs]
    assert products and all(_reversals(n.inputs[0]) % 2 == 0 for n in products)
    same_numbers(inputs, outputs, after, RNN_VALUES, rtol=1e-10)


def _reversals(var):
    """How many ``[::-1]`` views stand between ``var`` and the value it views."""
    count = 0
    while var.owner is not None and not isinstance(var.owner.op, (Dot, Scan)) and var.owner.inputs:
        spec = getattr(var.owner.op, "spec", None)
        count += bool(spec) and spec[0][0] == "slice" and spec[0][3] == -1
        var = var.owner.inputs[0]
    return count


def test_prune_loop_outputs_drops_unrequested_gradients():
    inputs, outputs = rnn_graph()  # the gradient of x is not requested
    merged = merge(outputs)
    backward = [n for n in loops(merged) if n.op.info.name.startswith("grad_of")][0]
    after = prune_loop_outputs(merged)
    new_backward = [n for n in loops(after) if n.op.info.name.startswith("grad_of")][0]
    assert new_backward.op.info.n_nitsot < backward.op.info.n_nitsot
    same_numbers(inputs, outputs, after, RNN_VALUES)


def test_reuse_state_buffers_stores_an_output_once():
    cell = nn.GRUCell(3, 4, seed=0)
    x = T.tensor3("x")
    out, h = nn.rnn(cell, x)  # the per-step output is the state itself
    before = [out, h]
    assert loops(before)[0].op.info.n_nitsot == 1
    after = apply_local_rewrites(before, [reuse_state_buffers])
    assert loops(after)[0].op.info.n_nitsot == 0
    same_numbers([x], before, after, [RNN_VALUES[0]])


@pytest.mark.parametrize("pieces, merged", [
    ([(0, 2), (2, 4)], True),            # the whole value, in two pieces: stored once
    ([(2, 4), (0, 3)], True),            # overlapping pieces that cover it
    ([(0, 1), (2, 4)], False),           # a gap: storing the whole value would store more
    ([(0, 2)], False),                   # one piece: nothing to share
])
def test_save_sliced_outputs_once(pieces, merged):
    W = symrnn.shared(np.random.default_rng(1).normal(size=(3, 4)), name="W", shape=(3, 4))
    x = T.tensor3("x")

    def step(x_t):
        gates = T.nnet.sigmoid(T.dot(x_t, W))
        return [gates[:, a:b] for a, b in pieces] + [T.tanh(gates)]

    outs, _ = symrnn.scan(step, sequences=x)
    before = list(outs)
    after = apply_local_rewrites(before, [save_sliced_outputs_once])
    n_before, n_after = loops(before)[0].op.info.n_nitsot, loops(after)[0].op.info.n_nitsot
    assert n_after == (n_before - len(pieces) + 1 if merged else n_before)
    same_numbers([x], before, after, [np.random.default_rng(2).normal(size=(5, 2, 3))])


@pytest.mark.parametrize("also_used", [False, True])
def test_sink_elementwise_sequences(also_used):
    x, scale = T.tensor3("x"), T.scalar("scale")
    seed = (x * 2.0 * scale)[::-1][1:]  # the shape of a loss's gradient seed, as the backward loop reads it
    total, _ = symrnn.scan(lambda s_t, acc: acc + s_t, sequences=seed, outputs_info=T.zeros_like(x[0]))
    before = [total[-1]] + ([seed.sum()] if also_used else [])
    after = sink_elementwise_sequences(before)
    outside = [n for n in toposort(after) if not isinstance(n.op, Scan)]
    muls_outside = sum(getattr(n.op, "name", "") == "mul" for n in outside)
    assert muls_outside == (2 if also_used else 0)  # computed per step, unless something else reads it
    if not also_used:
        assert inner_ops(loops(after)[0]).count("mul") == 2
    same_numbers([x, scale], before, after, [np.random.default_rng(5).normal(size=(6, 2, 3)), 0.5])


@pytest.mark.parametrize("shapes", [[(300, 100)], [(300, 100), (1, 100)], [(0, 4)], [(7,), ()], [(5, 2, 3)]])
def test_sum_in_blocks(shapes):
    xs = [T.tensor("float64", s, name=f"x{k}") for k, s in enumerate(shapes)]
    value = T.tanh(xs[0]) * 2.0 + (xs[1] * xs[0] if len(xs) > 1 else 0.0)
    before = [value.sum(), xs[0].sum()]  # the second: a plain input, stays a sum
    after = sum_in_blocks(fuse_elementwise(before))
    assert names(after).count("block_sum") == 1 and "sum" in [str(n.op)[:3] for n in toposort(after)]
    rng = np.random.default_rng(7)
    values = [rng.normal(size=s) for s in shapes]
    same_numbers(xs, before, after, values, rtol=1e-10)
    compiled = symrnn.function(xs, before)(*values)
    reference = symrnn.function(xs, before, mode="reference")(*values)
    for got, want in zip(compiled, reference):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_a_sum_of_squares_never_holds_the_squares():
    import tracemalloc

    x = T.matrix("x")
    f = symrnn.function([x], (x ** 2).mean())
    value = np.random.default_rng(8).normal(size=(2000, 500))
    f(value)
    tracemalloc.start()
    try:
        got = f(value)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * value.nbytes, peak / value.nbytes
    np.testing.assert_allclose(got, np.mean(value ** 2), rtol=1e-12)


def test_shape_of_elementwise():
    x, b = T.matrix("x"), T.row("b")
    value = T.tanh(x) + b
    before = [value.shape[0] * value.shape[1]]
    after = apply_local_rewrites(before, [shape_of_elementwise])
    shape_nodes = [n for n in toposort(after) if str(n.op).startswith("shape_")]
    assert shape_nodes and all(n.inputs[0] is x for n in shape_nodes)  # the size of x, not of the result
    same_numbers([x, b], before, after, [X, X[:1]])


def test_merge_sibling_dots_is_the_gate_gemm_merge():
    cell = nn.LSTMCell(3, 4, seed=0)
    x_t, h, c = T.matrix("x_t"), T.matrix("h"), T.matrix("c")
    out, _ = cell.step(x_t, (c, h))
    before = [out]
    assert names(before).count("dot") == 8
    after = merge_sibling_dots(before)
    assert names(after).count("dot") == 2  # x·[W_i W_f W_o W_c] and h·[U_i U_f U_o U_c]
    assert names(after).count("concatenate") == 2 or "Join" in names(after)
    rng = np.random.default_rng(4)
    same_numbers([x_t, h, c], before, after, [rng.normal(size=(2, 3)), rng.normal(size=(2, 4)),
                                              rng.normal(size=(2, 4))])


def test_merge_summed_dots():
    a, b, A, B = T.matrix("a"), T.matrix("b"), T.matrix("A"), T.matrix("B")
    before = [T.dot(a, A) + T.dot(b, B)]
    after = merge_summed_dots(before)
    assert names(before).count("dot") == 2 and names(after).count("dot") == 1
    rng = np.random.default_rng(5)
    same_numbers([a, b, A, B], before, after, [rng.normal(size=(2, 3)), rng.normal(size=(2, 5)),
                                               rng.normal(size=(3, 4)), rng.normal(size=(5, 4))])


def gate_graph(n_in=3, n_hidden=4):
    """One LSTM step with static weight shapes, as a loop body sees them (weights are the roots)."""
    cell = nn.LSTMCell(n_in, n_hidden, seed=0)
    x_t, h, c = T.tensor("float64", (None, n_in), "x_t"), T.matrix("h"), T.matrix("c")
    params = list(cell.params.values())
    weights = [T.tensor("float64", p.get_value().shape, p.name) for p in params]
    out, state = cell.step(x_t, (c, h))
    outputs = clone_replace([out, *state], dict(zip(params, weights)))
    rng = np.random.default_rng(5)
    values = [rng.normal(size=(2, n_in)), rng.normal(size=(2, n_hidden)), rng.normal(size=(2, n_hidden)),
              *[p.get_value() + rng.normal(size=p.get_value().shape) * 0.1 for p in params]]
    return [x_t, h, c, *weights], weights, outputs, values


def test_gate_gemm_merge_puts_gates_with_the_same_activation_side_by_side():
    h = T.matrix("h")
    Us = [T.tensor("float64", (4, 4), f"U{k}") for k in range(4)]
    acts = [T.nnet.sigmoid, T.tanh, T.nnet.sigmoid, T.tanh]  # built interleaved
    before = [act(T.dot(h, U) + 0.5) for act, U in zip(acts, Us)]
    after = merge_sibling_dots(before, Us)
    activations = []
    for node in toposort(after):  # each gate's activation reads a slice of the merged product, via the sum
        if getattr(node.op, "name", None) in ("sigmoid", "tanh"):
            activations.append((slice_of(node.inputs[0].owner.inputs[0])[2], node.op.name))
    assert [name for _, name in sorted(activations)] == ["sigmoid", "sigmoid", "tanh", "tanh"]
    rng = np.random.default_rng(4)
    same_numbers([h, *Us], before, after, [rng.normal(size=(2, 4)), *rng.normal(size=(4, 4, 4))])


def test_group_invariant_terms_gathers_the_forget_bias():
    inputs, weights, before, values = gate_graph()
    merged = merge_sibling_dots(before, weights)
    after = group_invariant_terms(merged, weights)
    # the forget gate's "+ 1.0" now joins its bias: an add of two weights-only values
    invariant_adds = [n for n in toposort(after) if getattr(n.op, "name", None) == "add"
                      and all(v in weights or isinstance(v, Constant) for v in n.inputs)]
    assert len(invariant_adds) == 1
    assert group_invariant_terms(merged, roots=None)[0] is merged[0]  # nothing is invariant at the top level
    same_numbers(inputs, before, after, values)


def test_merge_sibling_slices_applies_each_activation_once():
    inputs, weights, before, values = gate_graph()
    merged = group_invariant_terms(merge_sibling_dots(before, weights), weights)
    assert names(merged).count("sigmoid") == 3
    after = merge_sibling_slices(merged, weights)
    assert names(after).count("sigmoid") == 1 and names(after).count("tanh") == 2
    wide = [n for n in toposort(after) if getattr(n.op, "name", None) == "sigmoid"][0]
    assert wide.outputs[0].type.shape[-1] == 12  # i, f and o: 3 gates of 4 units
    assert names(after).count("add") < names(merged).count("add")  # the gates' sums, and the biases joined
    same_numbers(inputs, before, after, values)


def test_merge_sibling_slices_needs_neighbours_and_known_bounds():
    z = T.tensor("float64", (None, 8), "z")
    gap = [T.tanh(z[:, 0:2]), T.tanh(z[:, 4:6])]  # not neighbours: each stays
    assert names(merge_sibling_slices(gap)).count("tanh") == 2
    k = T.lscalar("k")
    symbolic = [T.exp(z[:, 0:k]), T.exp(z[:, k:8])]  # bounds unknown at compile time
    assert names(merge_sibling_slices(symbolic)).count("exp") == 2
    different = [T.tanh(z[:, 0:4]), T.exp(z[:, 4:8])]
    assert len([n for n in names(merge_sibling_slices(different)) if n in ("tanh", "exp")]) == 2
    before = [T.exp(z[:, 0:3]) * 2.0, T.exp(z[:, 3:8]) * 2.0]
    after = merge_sibling_slices(before)
    assert names(after).count("exp") == 1 and names(after).count("mul") == 1
    same_numbers([z], before, after, [np.random.default_rng(7).normal(size=(3, 8))])


def test_merge_summed_dots_leaves_the_input_projection_to_the_loop_rewrites():
    x_t, h, W, U = T.matrix("x_t"), T.matrix("h"), T.matrix("W"), T.matrix("U")
    before = [T.tanh(T.dot(x_t, W) + T.dot(h, U))]
    assert names(merge_summed_dots(before, roots=[W, U])).count("dot") == 1
    kept = merge_summed_dots(before, roots=[W, U], sequences=[x_t])
    assert kept[0] is before[0]


def test_accumulate_after_loop_saves_the_gates_once_and_computes_one_product():
    x, outputs = lstm_training_graph()
    after = optimize(outputs)
    backward = sorted(loops(after), key=lambda n: n.op.info.name.startswith("grad_of"))[1]
    saved = [v for v, label in zip(backward.op.inner_outputs[backward.op.info.n_states:], backward.op.info.labels[
        backward.op.info.n_states:]) if label == "saved value"]
    assert [v.type.shape[-1] for v in saved] == [16]  # [dA_i dA_f dA_o dA_c], not four (., 4) pieces
    outer_dots = [n for n in toposort(after) if isinstance(n.op, Dot) and n.outputs[0].type.shape[-1] == 16
                  and not any(isinstance(v.owner.op, Scan) for v in n.inputs if v.owner is not None)]
    assert len(outer_dots) >= 2  # dW and dU: one product each for the four gates
    assert_fast_run_matches_reference([x], outputs, [np.random.default_rng(6).normal(size=(5, 2, 3))])


def test_lstm_training_function_structure_after_fast_run():
    x, outputs = lstm_training_graph()
    after = optimize(outputs)
    forward, backward = sorted(loops(after), key=lambda n: n.op.info.name.startswith("grad_of"))
    assert inner_ops(forward).count("dot") == 1  # one fused 4-gate product per step
    assert inner_ops(backward).count("dot") == 1  # dA·Uᵀ per step; weight gradients after the loop
    assert_fast_run_matches_reference([x], outputs, [np.random.default_rng(6).normal(size=(5, 2, 3))])


def test_fast_compile_runs_no_rewrites():
    x = T.matrix("x")
    f = symrnn.function([x], T.neg(T.neg(x)) * 1.0, mode="FAST_COMPILE")
    assert "neg" in f.source and "mul" in f.source
    g = symrnn.function([x], T.neg(T.neg(x)) * 1.0)
    assert "neg" not in g.source.split("\n", 1)[1]


# --------------------------------------------------------------------------- random graphs with loops

STEP_OPS = {
    "tanh_dot": lambda x_t, h, W, U: T.tanh(T.dot(x_t, W) + T.dot(h, U)),
    "gated": lambda x_t, h, W, U: T.nnet.sigmoid(T.dot(x_t, W)) * h + T.tanh(T.dot(h, U)),
    "leaky": lambda x_t, h, W, U: 0.5 * h + 0.5 * T.tanh(T.dot(x_t, W) - T.dot(h, U.T)),
    "two_gates": lambda x_t, h, W, U: T.nnet.sigmoid(T.dot(h, U)) * T.tanh(T.dot(x_t, W) + T.dot(h, U * 0.5)),
}


@settings(max_examples=20 * FUZZ_SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(STEP_OPS)), st.integers(1, 6), st.booleans(), st.integers(0, 2**31 - 1),
       st.sampled_from(["all", "last", "W"]))
def test_fast_run_agrees_with_reference_on_random_loops(step_name, steps, backwards, seed, target):
    rng = np.random.default_rng(seed)
    W = symrnn.shared(rng.normal(size=(3, 4)) * 0.5, name="W")
    U = symrnn.shared(rng.normal(size=(4, 4)) * 0.5, name="U")
    x, h0 = T.tensor3("x"), T.matrix("h0")
    step = STEP_OPS[step_name]
    hs, _ = symrnn.scan(lambda x_t, h: step(x_t, h, W, U), sequences=x, outputs_info=h0, go_backwards=backwards)
    cost = {"all": (hs ** 2).mean(), "last": hs[-1].sum(), "W": (hs * 2).sum()}[target]
    outputs = [hs, cost, *symrnn.grad(cost, [W, U, x, h0])]
    fast = symrnn.function([x, h0], outputs)
    ref = symrnn.function([x, h0], outputs, mode="reference")
    # Two calls of different lengths, then the first again: kept, shared and in-place buffers are reused.
    runs = [[rng.normal(size=(n, 2, 3)), rng.normal(size=(2, 4))] for n in (steps, steps + 2)]
    for values in runs + runs[:1]:
        for a, b in zip(fast(*values), ref(*values)):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


ACTIVATIONS = {"sigmoid": T.nnet.sigmoid, "tanh": T.tanh, "exp": lambda z: T.exp(-abs(z)), "id": lambda z: z}


@settings(max_examples=20 * FUZZ_SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(sorted(ACTIVATIONS)), st.sampled_from([0.0, 1.0, -0.5]),
                          st.booleans()), min_size=1, max_size=5),
       st.integers(1, 4), st.integers(0, 2**31 - 1))
def test_random_gated_cells_agree_with_reference(gates, steps, seed):
    """Cells with random gates (activation, extra constant, bias or not) exercise the gate-GEMM merge,
    the invariant grouping and the horizontal merges, forward and backward, against the reference."""
    rng = np.random.default_rng(seed)
    n_in, n_hidden = 3, 4
    Ws = [symrnn.shared(rng.normal(size=(n_in, n_hidden)) * 0.5, name=f"W{k}", shape=(n_in, n_hidden))
          for k in range(len(gates))]
    Us = [symrnn.shared(rng.normal(size=(n_hidden, n_hidden)) * 0.5, name=f"U{k}", shape=(n_hidden, n_hidden))
          for k in range(len(gates))]
    bs = [symrnn.shared(rng.normal(size=n_hidden) * 0.1, name=f"b{k}", shape=(n_hidden,))
          for k in range(len(gates))]

    def step(x_t, h):
        total = h * 0.5
        for k, (activation, extra, biased) in enumerate(gates):
            pre = T.dot(x_t, Ws[k]) + T.dot(h, Us[k])
            if biased:
                pre = pre + bs[k]
            if extra:
                pre = pre + extra
            total = total + ACTIVATIONS[activation](pre) * (0.5 if k % 2 else -0.25)
        return T.tanh(total)

    x, h0 = T.tensor3("x"), T.matrix("h0")
    hs, _ = symrnn.scan(step, sequences=x, outputs_info=h0)
    cost = (hs ** 2).mean()
    params = Ws + Us + [b for b, (_, _, biased) in zip(bs, gates) if biased]
    outputs = [hs, cost, *symrnn.grad(cost, [*params, x])]
    values = [rng.normal(size=(steps, 2, n_in)), rng.normal(size=(2, n_hidden))]
    fast = symrnn.function([x, h0], outputs)(*values)
    ref = symrnn.function([x, h0], outputs, mode="reference")(*values)
    for a, b in zip(fast, ref):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_stacked_lstm_runs_each_forward_loop_once():
    from symrnn.nn.optimizers import adam

    cells = [nn.LSTMCell(3 if k == 0 else 4, 4, seed=k, name=f"layer{k}") for k in range(3)]
    cell = nn.MultiRNNCell(cells)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    cost = (out ** 2).mean()
    f = symrnn.function([x], cost, updates=adam(cost, cell.params))
    names_of_loops = sorted(n.op.info.name for n in f.nodes if isinstance(n.op, Scan))
    # the gradient's forward loops (which save values) serve the loss too: one forward loop per layer
    assert names_of_loops == sorted([*(f"layer{k}" for k in range(3)), *(f"grad_of_layer{k}" for k in range(3))])
