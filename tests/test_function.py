"""``function()``: outputs, updates, givens, input checking, modes and the generated source."""

import sys
import warnings

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn.compile import UnusedInputError
from symrnn.graph import GraphShapeError, GraphTypeError

MODES = ["FAST_RUN", "FAST_COMPILE", "reference", "DebugMode"]


@pytest.mark.parametrize("mode", MODES)
def test_output_forms(mode):
    x = T.vector("x")
    v = np.array([1.0, 2.0])
    single = symrnn.function([x], x * 2, mode=mode)(v)
    assert isinstance(single, np.ndarray)
    np.testing.assert_allclose(single, [2.0, 4.0])
    pair = symrnn.function([x], [x * 2, x.sum()], mode=mode)(v)
    assert isinstance(pair, list) and len(pair) == 2
    assert pair[1].shape == () and pair[1] == 3.0
    assert symrnn.function([x], [], on_unused_input="ignore", mode=mode)(v) == []
    assert symrnn.function([], None, mode=mode)() == []


@pytest.mark.parametrize("mode", MODES)
def test_scalar_outputs_are_zero_dim_arrays(mode):
    x = T.dscalar("x")
    out = symrnn.function([x], T.exp(x) + 1, mode=mode)(0.0)
    assert isinstance(out, np.ndarray) and out.shape == () and out == 2.0


@pytest.mark.parametrize("mode", MODES)
def test_updates_apply_after_all_outputs(mode):
    a = symrnn.shared(np.float64(1.0), name="a")
    b = symrnn.shared(np.float64(10.0), name="b")
    swap = symrnn.function([], [a, b], updates=[(a, b), (b, a)], mode=mode)
    assert [float(v) for v in swap()] == [1.0, 10.0]
    assert (float(a.get_value()), float(b.get_value())) == (10.0, 1.0)
    assert [float(v) for v in swap()] == [10.0, 1.0]


@pytest.mark.parametrize("mode", MODES)
def test_updates_as_dict_and_outputs_see_old_values(mode):
    count = symrnn.shared(np.int64(0), name="count")
    step = symrnn.function([], count * 10, updates={count: count + 1}, mode=mode)
    assert [int(step()) for _ in range(3)] == [0, 10, 20]
    assert int(count.get_value()) == 3


def test_returned_values_do_not_alias_inputs_or_shared():
    x = T.vector("x")
    w = symrnn.shared(np.arange(3.0), name="w")
    f = symrnn.function([x], [x, w, x.T, w[1:]])
    v = np.array([1.0, 2.0, 3.0])
    outs = f(v)
    for out in outs:
        out[...] = -7.0
    np.testing.assert_allclose(v, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(w.get_value(), [0.0, 1.0, 2.0])


def test_update_with_a_view_of_another_shared_is_copied():
    a = symrnn.shared(np.arange(4.0), name="a")
    b = symrnn.shared(np.zeros(4), name="b")
    f = symrnn.function([], [], updates=[(b, a[::1])])
    f()
    b.get_value(borrow=True)[0] = 99.0
    assert a.get_value()[0] == 0.0


def test_update_type_must_match():
    s = symrnn.shared(np.zeros(3, dtype="float32"), name="s")
    x = T.dvector("x")
    with pytest.raises(TypeError, match="'s'.*cast"):
        symrnn.function([x], [], updates=[(s, x)])
    with pytest.raises(TypeError, match="not a shared variable"):
        symrnn.function([x], [], updates=[(x, x + 1)])
    with pytest.raises(ValueError, match="updated twice"):
        symrnn.function([], [], updates=[(s, s + 1), (s, s * 2)])
    with pytest.raises(TypeError, match="pairs"):
        symrnn.function([], [], updates=[s])


def test_update_static_shape_must_fit():
    s = symrnn.shared(np.zeros(3), name="s", shape=(3,))
    with pytest.raises(GraphShapeError, match="'s'"):
        symrnn.function([], [], updates=[(s, T.zeros((4,)))])


@pytest.mark.parametrize("mode", MODES)
def test_givens_replaces_shared_state(mode):
    state = symrnn.shared(0, name="state")
    inc = T.iscalar("inc")
    foo = T.scalar(dtype=state.dtype)
    fn = symrnn.function([inc, foo], state * 2 + inc, givens=[(state, foo)], mode=mode)
    assert int(fn(1, 3)) == 7
    assert int(state.get_value()) == 0


def test_givens_replaces_an_input_with_an_expression():
    x, y = T.vector("x"), T.vector("y")
    f = symrnn.function([y], x ** 2, givens={x: y + 1})
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [4.0, 9.0])


def test_default_updates_are_applied():
    counter = symrnn.shared(np.int64(0), name="counter")
    counter.default_update = counter + 1
    f = symrnn.function([], counter * 1)
    assert [int(f()) for _ in range(3)] == [0, 1, 2]
    g = symrnn.function([], counter * 1, no_default_updates=True)
    g()
    assert int(counter.get_value()) == 3


def test_inputs_by_name_and_errors():
    x, y = T.vector("x"), T.vector("y")
    f = symrnn.function([x, y], x - y, name="diff")
    np.testing.assert_allclose(f(y=np.ones(2), x=np.full(2, 3.0)), [2.0, 2.0])
    with pytest.raises(TypeError, match="missing input 1 \\('y'\\)"):
        f(np.ones(2))
    with pytest.raises(TypeError, match="no input named 'z'"):
        f(np.ones(2), z=np.ones(2))
    with pytest.raises(TypeError, match="takes 2 input"):
        f(np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="twice"):
        f(np.ones(2), x=np.ones(2))


def test_input_checks_name_the_input():
    m = T.fmatrix("m")
    f = symrnn.function([m], m * 2)
    with pytest.raises(TypeError, match="input 0 \\('m'\\).*2 dimension"):
        f(np.zeros(3, dtype="float32"))
    with pytest.raises(TypeError, match="'m'.*float32.*float64.*allow_input_downcast"):
        f(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="'m'"):
        f(np.array([["a"]]))
    fixed = T.tensor("float64", (None, 3), name="fixed")
    g = symrnn.function([fixed], fixed + 1)
    with pytest.raises(ValueError, match="'fixed'.*\\(\\?, 3\\).*\\(2, 4\\)"):
        g(np.zeros((2, 4)))


def test_input_conversion_rules():
    d = T.dvector("d")
    f = symrnn.function([d], d * 2)
    assert f([1, 2]).dtype == "float64"  # Python ints upcast
    assert f(np.array([1, 2], dtype="int32")).dtype == "float64"  # safe upcast
    fl = T.fvector("fl")
    g = symrnn.function([fl], fl * 2)
    with pytest.raises(TypeError):
        g([1.5, 2.5])  # Python floats are float64; float32 is not floatX here
    g_down = symrnn.function([fl], fl * 2, allow_input_downcast=True)
    assert g_down(np.array([1.5, 2.5])).dtype == "float32"
    i = T.ivector("i")
    h = symrnn.function([i], i + 1)
    np.testing.assert_array_equal(h([1, 2]), [2, 3])  # Python ints that fit
    np.testing.assert_array_equal(h(np.array([1, 2], dtype="int64")), [2, 3])  # int64 values that fit (issue 16)
    with pytest.raises(TypeError):
        h(np.array([1, 2 ** 33], dtype="int64"))


def test_python_floats_downcast_to_floatx(monkeypatch):
    monkeypatch.setattr(symrnn.config, "floatX", "float32")
    x = T.vector("x")
    f = symrnn.function([x], x * 2)
    assert f([1.5, 2.5]).dtype == "float32"
    with pytest.raises(TypeError):
        f(np.array([1.5, 2.5]))  # an explicit float64 array is not downcast silently


def test_inputs_must_be_free_variables():
    x = T.vector("x")
    w = symrnn.shared(np.ones(2), name="w")
    with pytest.raises(TypeError, match="shared variable"):
        symrnn.function([w], w * 2)
    with pytest.raises(TypeError, match="computed by the graph"):
        symrnn.function([x * 2], x)
    with pytest.raises(TypeError, match="constant"):
        symrnn.function([T.constant(1.0)], x, on_unused_input="ignore")
    with pytest.raises(ValueError, match="same input"):
        symrnn.function([x, x], x)
    with pytest.raises(TypeError, match="list of input"):
        symrnn.function(x, x)


def test_missing_input_is_reported():
    x, y = T.vector("x"), T.vector("y")
    with pytest.raises(GraphTypeError, match="'y'.*not among the inputs"):
        symrnn.function([x], x + y)


def test_unused_input_policy():
    x, y = T.vector("x"), T.vector("y")
    with pytest.raises(UnusedInputError, match="input 1 \\('y'"):
        symrnn.function([x, y], x * 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        symrnn.function([x, y], x * 2, on_unused_input="warn")
    assert any("not used" in str(w.message) for w in caught)
    symrnn.function([x, y], x * 2, on_unused_input="ignore")
    with pytest.raises(ValueError, match="on_unused_input"):
        symrnn.function([x], x, on_unused_input="maybe")
    with pytest.raises(ValueError, match="unknown mode"):
        symrnn.function([x], x, mode="FAST")


def test_source_is_readable_python_with_node_comments():
    x = T.matrix("x")
    w = symrnn.shared(np.ones((3, 2)), name="W")
    f = symrnn.function([x], T.tanh(T.dot(x, w)) + 1.0)
    src = f.source
    assert src.startswith("def compiled(in0, sh0, _buffers):")  # the kept buffers of this call come last
    assert "xp.dot(in0, sh0" in src and "xp.tanh(" in src
    assert "# dot(x, W)" in src and "test_function.py:" in src
    assert "perform" not in src  # every op here is emitted as code, not interpreted
    compile(src, "<check>", "exec")


def test_reference_mode_has_no_source_but_same_results():
    x = T.matrix("x")
    out = T.nnet.softmax(x * 3).sum(axis=0)
    v = np.random.default_rng(0).normal(size=(4, 5))
    ref = symrnn.function([x], out, mode="reference")
    fast = symrnn.function([x], out)
    assert ref.source is None
    np.testing.assert_allclose(ref(v), fast(v))


def test_debug_mode_catches_a_wrong_emit():
    from symrnn.ops.elemwise import Elemwise

    broken = Elemwise("broken_exp", 1, np.exp, "xp.exp({0}) + 1")
    x = T.vector("x")
    f = symrnn.function([x], broken(x), mode="DebugMode")
    with pytest.raises(AssertionError, match="differs from the reference"):
        f(np.zeros(2))


def test_runtime_error_names_node_and_user_line():
    a, b = T.vector("a"), T.vector("b")
    out = a + b
    line = sys._getframe().f_lineno - 1
    f = symrnn.function([a, b], out)
    with pytest.raises(ValueError, match=f"(?s)add.*'a'.*'b'.*test_function.py:{line}"):
        f(np.zeros(3), np.zeros(4))


def test_generated_code_never_contains_user_strings():
    evil = 'x"\n__import__("os").system("echo pwned")\n#'
    x = T.vector(evil)
    w = symrnn.shared(np.ones(2), name="W')\nraise SystemExit('bad")
    f = symrnn.function([x], x * w, name="f\nimport os")
    for line in f.source.splitlines():
        stripped = line.strip()
        if any(word in stripped for word in ("pwned", "SystemExit", "__import__", "system(")):
            assert stripped.startswith("#"), line
    assert f.source.startswith("def f_import_os(")
    np.testing.assert_allclose(f(np.array([1.0, 2.0])), [1.0, 2.0])


def test_repr_names_inputs():
    x = T.vector("x")
    f = symrnn.function([x], x + 1, name="inc")
    assert "inc" in repr(f) and "'x'" in repr(f)


def test_nodes_made_by_rewrites_name_the_function_call_line():
    # (a contextlib frame once stood in for the user's line)
    x = T.tensor3("x")
    hs, _ = symrnn.scan(lambda x_t, h: T.tanh(x_t + h), sequences=x, outputs_info=T.zeros_like(x[0]))
    f = symrnn.function([x], [(hs ** 2).mean(), *symrnn.grad((hs ** 2).mean(), [x])])
    call_line = sys._getframe().f_lineno - 1
    assert "contextlib" not in f.source
    assert f"test_function.py:{call_line}" in f.source


@pytest.mark.parametrize("enabled", [True, False])
def test_compiling_leaves_the_garbage_collector_as_it_found_it(enabled, monkeypatch):
    import gc

    from symrnn.compile import codegen

    x = T.vector("x")
    seen = []
    generate = codegen.generate

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return generate(*args, **kwargs)

    def failing(*args, **kwargs):
        raise RuntimeError("an error while compiling")

    try:
        if not enabled:
            gc.disable()
        monkeypatch.setattr(codegen, "generate", watched)
        symrnn.function([x], T.exp(x) + 1)
        assert seen == [False] and gc.isenabled() is enabled  # paused while compiling, restored after
        monkeypatch.setattr(codegen, "generate", failing)
        with pytest.raises(RuntimeError, match="while compiling"):
            symrnn.function([x], T.exp(x) + 1)
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


@pytest.mark.parametrize("name", ["1st step", "class", "None", "__import__", "xp", "np", "in", "_k0", "λ-step",
                                  "a\nb", "x" * 500, "", "train step"])
def test_any_function_name_compiles_and_cannot_shadow_the_module(name):
    """Issue 15, finding 5: names starting with a digit, keywords (also after sanitizing: __import__ became
    import), and xp/np (which replaced the array module inside the generated code) broke compilation."""
    import ast
    import keyword

    x = T.dvector("x")
    w = symrnn.shared(np.ones(3), name="w")
    f = symrnn.function([x], T.exp(x) * w + T.dot(x, w), name=name)
    np.testing.assert_allclose(f(np.arange(3.0)), np.exp(np.arange(3.0)) + 3.0)
    definition = ast.parse(f.source).body[0]
    assert isinstance(definition, ast.FunctionDef)
    assert definition.name.isidentifier() and not keyword.iskeyword(definition.name)
    assert definition.name not in ("xp", "np") and not definition.name.startswith("_")
    assert f.name == name  # the user's name is kept as given, for errors and printing


def test_numpy_int64_labels_go_into_an_int32_input_when_every_value_fits():
    """Issue 16: NumPy's default int64 labels into T.ivector failed; values that do not fit still fail."""
    y = T.ivector("y")
    f = symrnn.function([y], y * 2)
    got = f(np.array([1, 2, 3], dtype="int64"))
    assert got.dtype == np.int32 and got.tolist() == [2, 4, 6]
    with pytest.raises(TypeError, match="input 0 .'y'.*int64.*values that do not fit"):
        f(np.array([2 ** 40], dtype="int64"))
    v = T.fvector("v")
    with pytest.raises(TypeError, match="would lose precision"):
        symrnn.function([v], v * 1)(np.ones(2))  # float64 into float32 stays refused
