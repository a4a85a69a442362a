"""Theano's ``printing.Print`` (an identity that prints when the function runs) and ``printing.pprint``.

The printed text is compared with Theano's documented line (``hello world __str__ = [ 1.  2.  3.]``, in
today's NumPy spelling) and with NumPy's own ``str`` of the expected value, in FAST_RUN and in the reference
interpreter."""

import numpy as np
import pytest
from helpers import MODES, check_grad

import symrnn
import symrnn.tensor as T
from symrnn import printing
from symrnn.printing import Print

V = np.array([1.0, 2.0, 3.0])


@pytest.mark.parametrize("mode", MODES)
def test_print_documented_example(mode, capsys):
    x = T.dvector()
    f = symrnn.function([x], Print("hello world")(x), mode=mode)
    capsys.readouterr()
    out = f([1, 2, 3])
    assert capsys.readouterr().out == f"hello world __str__ = {V}\n"
    np.testing.assert_array_equal(out, V)


@pytest.mark.parametrize("mode", MODES)
def test_print_between_fused_arithmetic_prints_the_intermediate_value(mode, capsys):
    x = T.dvector("x")
    y = T.exp(Print("mid")(T.exp(x) * 2) + 1)
    f = symrnn.function([x], y, mode=mode)
    capsys.readouterr()
    got = f(V)
    assert capsys.readouterr().out == f"mid __str__ = {np.exp(V) * 2}\n"
    np.testing.assert_allclose(got, np.exp(np.exp(V) * 2 + 1), rtol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_print_attributes_and_global_fn(mode, capsys):
    x = T.dmatrix("x")
    seen = []
    keep = Print("g", global_fn=lambda op, v: seen.append((op.message, v.copy())))
    y = Print("m", attrs=("shape", "sum"))(x) + keep(x)
    f = symrnn.function([x], y, mode=mode)
    capsys.readouterr()
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(f(a), 2 * a)
    assert capsys.readouterr().out == f"m shape = (2, 3)\nm sum = {a.sum()}\n"
    assert len(seen) == 1 and seen[0][0] == "g"
    np.testing.assert_array_equal(seen[0][1], a)


def test_equal_prints_are_not_merged(capsys):
    x = T.dvector("x")
    f = symrnn.function([x], Print("same")(x) * Print("same")(x))
    capsys.readouterr()
    np.testing.assert_array_equal(f(V), V * V)
    assert capsys.readouterr().out == f"same __str__ = {V}\n" * 2


def test_print_message_is_not_pasted_into_generated_code(capsys):
    message = 'boom"\n__import__("os").system("false")  # \'\'\''
    x = T.dvector("x")
    f = symrnn.function([x], Print(message)(x) + 1)
    code = [line for line in f.source.splitlines() if not line.strip().startswith("#")]
    assert not any("boom" in line or "__import__" in line for line in code)  # only in (sanitized) comments
    compile(f.source, "<generated>", "exec")
    capsys.readouterr()
    f(V)
    assert capsys.readouterr().out == f"{message} __str__ = {V}\n"


def test_print_in_a_loop_prints_every_step(capsys):
    h0 = T.dvector("h0")
    hs, _ = symrnn.scan(lambda h: Print("step")(T.tanh(h)), outputs_info=[h0], n_steps=3)
    for mode in MODES:
        f = symrnn.function([h0], hs, mode=mode)
        capsys.readouterr()
        got = f(np.array([0.5]))
        want, h = [], np.array([0.5])
        for _ in range(3):
            h = np.tanh(h)
            want.append(h)
        np.testing.assert_allclose(got, np.array(want), rtol=1e-12)
        assert capsys.readouterr().out == "".join(f"step __str__ = {w}\n" for w in want)


def test_print_gradient_passes_through_unchanged(capsys):
    x = T.dvector("x")
    for cost, want in [((Print("p")(x) * 3.0).sum(), 3.0 * np.ones(3)), ((Print("p")(x) ** 2).sum(), 2 * V)]:
        f = symrnn.function([x], symrnn.grad(cost, x))
        capsys.readouterr()
        np.testing.assert_allclose(f(V), want)
        # the gradient graph reads Print's output (its value or its shape), so it runs, and prints, once
        assert capsys.readouterr().out == f"p __str__ = {V}\n"
    check_grad(lambda a: Print("p", global_fn=lambda op, v: None)(a) * a, [V])


def test_pprint_is_theanos_pretty_printer():
    x = T.dscalar("x")
    y = x ** 2 + T.exp(x)
    assert printing.pprint(y) == printing.pp(y) == "((x ** 2.0) + exp(x))"
    assert printing.pprint is printing.pp


def test_print_of_a_constant_prints_at_every_call_not_at_compile_time(capsys):
    """Constant folding once ran Print at compile time and never again (an op with side effects is kept)."""
    import symrnn
    from symrnn import printing

    f = symrnn.function([], printing.Print("c")(T.constant(2.0)) * 3)
    assert capsys.readouterr().out == ""
    assert float(f()) == 6.0 and float(f()) == 6.0
    assert capsys.readouterr().out.count("c __str__ = 2.0") == 2
