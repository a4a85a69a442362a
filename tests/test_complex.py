"""Complex dtypes (Theano's c*/z* constructors): arithmetic, exp and log, the shape ops and real/imag/conj/angle
agree with NumPy in every mode; gradients do not flow through complex values (docs/theano.md)."""

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T

MODES = ["FAST_RUN", "FAST_COMPILE", "reference"]


@pytest.mark.parametrize("mode", MODES)
def test_complex_arithmetic_and_parts_match_numpy(mode):
    z, w = T.zmatrix("z"), T.cmatrix("w")
    outputs = [z + w, z * w, z / (w + 2), -z, z ** 2, T.exp(z), T.log(z), T.sqr(w), T.real(z), T.imag(z),
               T.conj(z), T.angle(z), abs(z), z.T, T.eq(z, z), (z * 2).sum(), T.concatenate([z, z])]
    f = symrnn.function([z, w], outputs, mode=mode)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    b = (rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))).astype("complex64")
    want = [a + b, a * b, a / (b + 2), -a, a ** 2, np.exp(a), np.log(a), np.square(b), a.real, a.imag, np.conj(a),
            np.angle(a), np.abs(a), a.T, a == a, (a * 2).sum(), np.concatenate([a, a])]
    for got, expected, var in zip(f(a, b), want, outputs):
        assert got.dtype == var.dtype == np.asarray(expected).dtype
        np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_complex_types_constructors_shared_values_and_constants():
    assert T.zmatrix().type == T.TensorType("complex128", (False, False))
    assert T.cscalar().dtype == "complex64" and T.ztensor3().ndim == 3
    s = symrnn.shared(np.array([1 + 1j, 2]), name="s")
    assert s.dtype == "complex128"
    f = symrnn.function([], s * 1j, updates=[(s, s * 2)])
    np.testing.assert_allclose(f(), [1j - 1, 2j])
    np.testing.assert_allclose(s.get_value(), [2 + 2j, 4])
    assert (3 + .2j * T.zmatrix().T).dtype == "complex128"


def test_ops_without_complex_support_say_so_with_the_users_line():
    z = T.zvector("z")
    with pytest.raises(TypeError, match=r"tanh: does not accept dtype complex128(.|\n)*test_complex.py"):
        T.tanh(z)


def test_gradients_do_not_flow_through_complex_values():
    x = T.dvector("x")
    z = x * (1 + 1j)
    cost = T.real(z * T.conj(z)).sum() + (x ** 2).sum()  # only the real path counts: 2x
    g = symrnn.function([x], symrnn.grad(cost, x))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(g, [2.0, 4.0])
