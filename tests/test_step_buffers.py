"""Per-step cost of a loop on the NumPy path (issue 19, the cheap wins): a value that dies with its step is
computed into the array the previous step made (``out=``) instead of a new one, and sigmoid's overflow is
ignored through a context made once per loop instead of an ``np.errstate`` entered at every step.

Both must leave the numbers and the warnings as they were: the values are compared with the reference
interpreter (and with a plain NumPy loop), over calls whose shapes change, and a carried or stored value must
never be overwritten by the next step."""

import re
import threading
import warnings

import numpy as np
import pytest
from helpers import lstm_training_graph

import symrnn
import symrnn.tensor as T

RNG = np.random.default_rng(0)


def loop_body(source: str, name: str) -> tuple[str, str]:
    """``(the lines before the loop's for, the for loop's body)`` of the loop called ``name``."""
    text = source.split(f"scan {name} begins")[1].split(f"scan {name} ends")[0]
    found = re.search(r"\n( *)for t\d+ in range\(n\d+\):\n", text)
    body = []
    for line in text[found.end():].splitlines():
        if line.strip() and len(line) - len(line.lstrip()) <= len(found.group(1)):
            break
        body.append(line)
    return text[:found.start()], "\n".join(body)


def allocating_lines(body: str) -> list[str]:
    """The body's NumPy calls that make a new array at every step (not those of the first step only)."""
    found, skip = [], None
    for line in body.splitlines():
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if skip is not None and depth > skip:
            continue
        skip = None
        if stripped.startswith("#") or re.match(r"if (t\d+ == 0|\w+ is None)\b", stripped):
            skip = depth if stripped.endswith(":") else None
            continue
        if re.match(r"^\w+ = [\w.]+ [-+*/] [\w.]+$", stripped):
            found.append(stripped)
        elif re.search(r"= xp\.(?!shape)\w+\(", stripped) and "out=" not in stripped:
            found.append(stripped)
    return found


def test_the_lstm_backward_step_allocates_only_the_values_it_carries():
    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    before, body = loop_body(f.source, "grad_of_lstm")
    # The two states the next step reads (dC and dh, carried in local names) are new arrays each step;
    # every other value (the fused chains' temporaries and results) reuses the previous step's array.
    fresh = allocating_lines(body)
    assert len(fresh) == 2, fresh
    assert all(re.match(r"t\d+_(mul|dot) = ", line) for line in fresh), fresh
    reused = re.findall(r"(f\d+) = xp\.\w+\(.*, out=\1\)", body)
    assert len(reused) == 7, body
    assert re.search(r"\n\s*" + " = ".join(reused) + " = None", before), before  # the first step allocates
    _, forward = loop_body(f.source, "lstm")
    assert allocating_lines(forward) == [], forward  # the forward step allocates nothing after its first


def test_reused_step_arrays_give_the_reference_results_as_shapes_change():
    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    reference = symrnn.function([x], outputs, mode="reference")
    for n_steps, batch in [(6, 2), (3, 5), (1, 2), (6, 2), (2, 1)]:
        value = RNG.normal(size=(n_steps, batch, 3))
        for got, want in zip(f(value), reference(value)):
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("step", [
    lambda x_t, h, W: T.tanh(x_t + h) * 2.0,                   # a fused chain's result is the state
    lambda x_t, h, W: T.dot(h, W) + x_t,                        # the state is an elemwise of a product
    lambda x_t, h, W: T.dot(T.tanh(h), W),                      # a product is the state itself
    lambda x_t, h, W: (x_t * h + 1.0)[:, ::-1],                 # a view of an elemwise value is the state
    lambda x_t, h, W: T.dot(x_t * h, W).dimshuffle(0, 1) * 0.5,  # an elemwise of a product, through a view
])
@pytest.mark.parametrize("last_only", [True, False])
def test_a_value_the_next_step_reads_is_never_overwritten(step, last_only):
    W = symrnn.shared(RNG.normal(size=(4, 4)) * 0.5, name="W", shape=(4, 4))
    x, h0 = T.tensor3("x"), T.matrix("h0")
    hs, _ = symrnn.scan(lambda x_t, h: step(x_t, h, W), sequences=x, outputs_info=h0)
    out = hs[-1] if last_only else hs  # only the last value: the state is carried in a local name
    f = symrnn.function([x, h0], [out, (hs ** 2).sum() if not last_only else out.sum()])
    reference = symrnn.function([x, h0], [out, (hs ** 2).sum() if not last_only else out.sum()], mode="reference")
    for n_steps in (5, 1, 5):
        values = [RNG.normal(size=(n_steps, 2, 4)), RNG.normal(size=(2, 4))]
        for got, want in zip(f(*values), reference(*values)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_stored_per_step_value_is_never_overwritten():
    # A per-step output that is a view of a value computed in the step: each row must keep its own step.
    x = T.tensor3("x")
    W = symrnn.shared(RNG.normal(size=(3, 3)), name="W", shape=(3, 3))
    ys, _ = symrnn.scan(lambda x_t: [T.dot(x_t * 2.0, W).T, (x_t + 1.0)[::-1]], sequences=x)
    f = symrnn.function([x], ys)
    value = RNG.normal(size=(4, 2, 3))
    a, b = f(value)
    for t in range(4):
        np.testing.assert_allclose(a[t], (value[t] * 2.0 @ W.get_value()).T, rtol=1e-12)
        np.testing.assert_allclose(b[t], (value[t] + 1.0)[::-1], rtol=1e-12)


def test_sigmoid_in_a_loop_ignores_overflow_through_one_context_per_loop():
    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    before, body = loop_body(f.source, "lstm")
    assert "errstate" not in body, body
    assert re.search(r"ignore_over\d+\.run\(xp\.exp, ", body), body
    assert len(re.findall(r"ignore_over\d+ = _overflow_ignored\d+\(\)", before)) == 1, before
    assert "errstate" not in f.source  # the gradient's loop has no sigmoid: no context either
    assert f.source.count("_overflow_ignored") == 1


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sigmoid_in_a_loop_is_stable_in_the_tails_without_a_warning(dtype):
    x = T.tensor3("x", dtype=dtype)
    hs, _ = symrnn.scan(lambda x_t: T.nnet.sigmoid(x_t) * 1.0, sequences=x)
    f = symrnn.function([x], hs)
    value = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype).reshape(1, 1, 5).repeat(3, axis=0)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        got = f(value)
    with np.errstate(over="ignore"):
        want = np.reciprocal(1 + np.exp(-value))  # exp(1000) = inf: 1/inf = 0
    np.testing.assert_array_equal(got, want)
    assert got.dtype == dtype and got[0, 0, 0] == 0 and got[0, 0, -1] == 1


def test_overflow_elsewhere_in_a_loop_still_warns_and_raises_as_the_caller_asks():
    x = T.tensor3("x")
    hs, _ = symrnn.scan(lambda x_t: T.nnet.sigmoid(-x_t) + T.exp(x_t), sequences=x)
    f = symrnn.function([x], hs)
    value = np.full((3, 1, 2), 1000.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = f(value)
    assert np.all(np.isinf(got))
    assert [str(w.message) for w in caught] == ["overflow encountered in exp"] * 3  # exp's, never sigmoid's
    settings = np.geterr()
    with np.errstate(over="raise"), pytest.raises(FloatingPointError, match="overflow"):
        f(value)
    assert np.geterr() == settings  # the loop's context never leaks into the caller's


def test_threads_with_their_own_error_settings_each_keep_them():
    x = T.tensor3("x")
    hs, _ = symrnn.scan(lambda x_t: T.nnet.sigmoid(-x_t) + T.exp(x_t), sequences=x)
    f = symrnn.function([x], hs)
    value = np.full((50, 2, 2), 1000.0)
    outcome: dict[str, str] = {}
    start = threading.Barrier(4)

    def worker(name: str, over: str) -> None:
        start.wait()
        with np.errstate(over=over):
            try:
                for _ in range(20):
                    f(value)
                outcome[name] = "ran"
            except FloatingPointError:
                outcome[name] = "raised"

    threads = [threading.Thread(target=worker, args=(f"{over}{i}", over))
               for i, over in enumerate(["raise", "ignore", "raise", "ignore"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcome == {"raise0": "raised", "ignore1": "ran", "raise2": "raised", "ignore3": "ran"}


@pytest.mark.parametrize("last_only", [True, False])
def test_a_state_made_before_the_step_reads_its_previous_value_is_not_overwritten(last_only):
    # The new state does not depend on the old one, and another output reads the old one: whichever runs
    # first, the old value must still be there (a state's array is never reused for the next step's value).
    W = symrnn.shared(RNG.normal(size=(4, 4)) * 0.5, name="W", shape=(4, 4))
    x, h0 = T.tensor3("x"), T.matrix("h0")
    (hs, ys), _ = symrnn.scan(lambda x_t, h: [T.tanh(x_t * 3.0) * 2.0, T.dot(h * 1.5, W) + h],
                              sequences=x, outputs_info=[h0, None])
    outputs = [hs[-1], ys] if last_only else [hs, ys]
    f = symrnn.function([x, h0], outputs)
    values = [RNG.normal(size=(5, 2, 4)), RNG.normal(size=(2, 4))]
    previous = np.concatenate([values[1][None], np.tanh(values[0][:-1] * 3.0) * 2.0])
    want = previous * 1.5 @ W.get_value() + previous
    for _ in range(2):
        np.testing.assert_allclose(f(*values)[1], want, rtol=1e-12)


def test_no_value_that_outlives_its_step_may_be_reused():
    # Scan.step_private: never an inner output (a state the next step reads, a carried or stored value),
    # nor a value an inner output may be a view of; the step's other computed values of fixed shape are.
    from symrnn.scan.op import Scan

    x, outputs = lstm_training_graph()
    f = symrnn.function([x], outputs)
    loops = [n.op for n in f.nodes if isinstance(n.op, Scan)]
    assert len(loops) == 2
    for op in loops:
        private = op.step_private()
        assert private and not private & {id(v) for v in op.inner_outputs}
    x, h0 = T.tensor3("x"), T.matrix("h0")
    hs, _ = symrnn.scan(lambda x_t, h: (T.tanh(x_t * h) + 1.0)[:, ::-1] * 1.0 + (x_t * 2.0)[:, ::-1],
                        sequences=x, outputs_info=h0)
    op = hs.owner.inputs[0].owner.op if not isinstance(hs.owner.op, Scan) else hs.owner.op
    viewed = [n.inputs[0] for n in op.inner_nodes if type(n.op).__name__ == "Subtensor"]
    assert len(viewed) == 2 and all(id(v) in op.step_private() for v in viewed)  # read through a view: fine
    hs, _ = symrnn.scan(lambda x_t, h: (x_t * h + 1.0)[:, ::-1], sequences=x, outputs_info=h0)
    op = hs.owner.inputs[0].owner.op if not isinstance(hs.owner.op, Scan) else hs.owner.op
    (viewed,) = [n.inputs[0] for n in op.inner_nodes if type(n.op).__name__ == "Subtensor"]
    assert id(viewed) not in op.step_private()  # the state is a view of it: never reused
