"""The graph IR: types, variables, toposort, clone/replace and the networkx export."""

import sys

import networkx as nx
import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn.graph import (
    Constant,
    GraphShapeError,
    GraphTypeError,
    SharedVariable,
    TensorType,
    clone_replace,
    graph_inputs,
    to_networkx,
    toposort,
)


def test_tensor_type_basics():
    t = TensorType("float32", (None, 1, 3))
    assert t.ndim == 3
    assert t.broadcastable == (False, True, False)
    assert t == TensorType(np.float32, [None, 1, 3])
    assert hash(t) == hash(TensorType("float32", (None, 1, 3)))
    assert t != TensorType("float64", (None, 1, 3))
    assert repr(t) == "float32(?, 1, 3)"
    assert repr(TensorType("int64", (None,))) == "int64(?,)"


@pytest.mark.parametrize("bad", [(-1,), (1.5,), ("a",), (True,)])
def test_tensor_type_rejects_bad_shapes(bad):
    with pytest.raises(GraphTypeError, match="static shape"):
        TensorType("float64", bad)


def test_tensor_type_rejects_unknown_dtype():
    with pytest.raises(GraphTypeError, match="not supported"):
        TensorType("datetime64", ())


@pytest.mark.parametrize(
    "ctor, dtype, ndim",
    [
        (T.scalar, "float64", 0), (T.vector, "float64", 1), (T.matrix, "float64", 2), (T.tensor3, "float64", 3),
        (T.tensor4, "float64", 4), (T.iscalar, "int32", 0), (T.ivector, "int32", 1), (T.imatrix, "int32", 2),
        (T.lscalar, "int64", 0), (T.lvector, "int64", 1), (T.fvector, "float32", 1), (T.fmatrix, "float32", 2),
        (T.ftensor3, "float32", 3), (T.dmatrix, "float64", 2), (T.dtensor3, "float64", 3),
    ],
)
def test_constructors(ctor, dtype, ndim):
    var = ctor("v")
    assert var.dtype == dtype and var.ndim == ndim and var.name == "v"
    assert var.type.shape == (None,) * ndim


def test_constructor_dtype_and_floatx(monkeypatch):
    assert T.matrix(dtype="int32").dtype == "int32"
    monkeypatch.setattr(symrnn.config, "floatX", "float32")
    assert T.matrix().dtype == "float32"
    assert T.constant(1.5).dtype == "float32"
    assert T.tensor("floatX", (2,)).type == TensorType("float32", (2,))


def test_config_validates_and_reads_flags():
    with pytest.raises(ValueError, match="floatX"):
        symrnn.config.floatX = "float128"
    with pytest.raises(AttributeError, match="no flag"):
        symrnn.config.floatx = "float32"
    from symrnn.config import Config

    cfg = Config()
    cfg.apply_flags("floatX=float32, mode=reference")
    assert (cfg.floatX, cfg.mode) == ("float32", "reference")
    with pytest.raises(ValueError, match="name=value"):
        cfg.apply_flags("floatX")


def test_symrnn_flags_environment_variable():
    import subprocess

    code = "import symrnn, symrnn.tensor as T; print(symrnn.config.floatX, T.matrix().dtype)"
    env = {"SYMRNN_FLAGS": "floatX=float32", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["float32", "float32"]


def test_constant_is_read_only_and_typed():
    c = T.constant([[1, 2], [3, 4]], dtype="float32")
    assert isinstance(c, Constant)
    assert c.type == TensorType("float32", (2, 2))
    with pytest.raises(ValueError):
        c.data[0, 0] = 5
    assert T.constant(3).dtype == "int64"
    assert T.as_tensor_variable(2.5).weak and not T.constant(2.5).weak


def test_shared_get_set_value_copies_unless_borrowed():
    value = np.arange(6.0).reshape(2, 3)
    s = symrnn.shared(value, name="s")
    assert isinstance(s, SharedVariable) and s.type == TensorType("float64", (None, None))
    value[0, 0] = 100.0
    assert s.get_value()[0, 0] == 0.0  # copied on creation
    got = s.get_value()
    got[0, 1] = 50.0
    assert s.get_value()[0, 1] == 1.0  # get_value copies
    s.set_value(np.ones((4, 4)))  # the shape may change, the ndim may not
    assert s.get_value().shape == (4, 4)
    with pytest.raises(GraphTypeError, match="'s'"):
        s.set_value(np.ones(3))
    borrowed = symrnn.shared(value, borrow=True)
    assert borrowed.get_value(borrow=True) is value


def test_shared_python_float_follows_floatx(monkeypatch):
    monkeypatch.setattr(symrnn.config, "floatX", "float32")
    assert symrnn.shared(0.5).dtype == "float32"
    assert symrnn.shared(np.float64(0.5)).dtype == "float64"
    assert symrnn.shared(0).dtype == "int64"


def test_variable_has_no_truth_value_or_length():
    x = T.vector("x")
    with pytest.raises(GraphTypeError, match="truth value"):
        bool(x > 0)
    with pytest.raises(GraphTypeError, match="len"):
        len(x)
    with pytest.raises(GraphTypeError, match="iterate"):
        list(x)


def test_variable_attributes():
    x = T.tensor("float32", (2, None, 5), name="x")
    assert x.ndim == 3 and x.dtype == "float32"
    assert x.T.type.shape == (5, None, 2)
    assert x.shape.type == TensorType("int64", (3,))
    assert x.shape[0].data == 2 and x.shape[2].data == 5
    assert x.dimshuffle(2, "x", 0, 1).type.shape == (5, 1, 2, None)
    assert x.astype("float64").dtype == "float64"
    assert x.sum(axis=1).type.shape == (2, 5)
    assert x.flatten().type.shape == (None,)
    assert x.reshape((10, -1)).ndim == 2


def test_toposort_orders_inputs_before_users():
    x, y = T.vector("x"), T.vector("y")
    a = T.exp(x)
    b = a + y
    c = b * a
    order = toposort([c])
    assert order.index(a.owner) < order.index(b.owner) < order.index(c.owner)
    assert len(order) == 3


def test_toposort_is_iterative_on_deep_graphs():
    x = T.scalar("x")
    y = x
    depth = sys.getrecursionlimit() * 3
    for _ in range(depth):
        y = y + 1
    assert len(toposort([y])) == depth
    f = symrnn.function([x], y)
    assert f(0.5) == pytest.approx(0.5 + depth)
    gx = symrnn.grad(y, x)
    assert symrnn.function([x], gx, on_unused_input="ignore")(0.0) == 1.0


def test_graph_inputs_lists_leaves():
    x = T.vector("x")
    w = symrnn.shared(np.ones(3), name="w")
    out = T.dot(x, w) + 1.0
    leaves = graph_inputs([out])
    assert x in leaves and w in leaves
    assert any(isinstance(v, Constant) for v in leaves)


def test_clone_replace_substitutes_and_keeps_original():
    x, y = T.vector("x"), T.vector("y")
    out = T.exp(x) * 2
    [new] = clone_replace([out], {x: y})
    f_old = symrnn.function([x], out)
    f_new = symrnn.function([y], new)
    v = np.array([0.0, 1.0])
    np.testing.assert_allclose(f_old(v), np.exp(v) * 2)
    np.testing.assert_allclose(f_new(v), np.exp(v) * 2)
    assert x not in graph_inputs([new])


def test_clone_replace_intermediate_and_type_check():
    x = T.vector("x")
    mid = x * 3
    out = mid + 1
    z = T.vector("z")
    [new] = clone_replace([out], {mid: z})
    np.testing.assert_allclose(symrnn.function([z], new)(np.array([1.0, 2.0])), [2.0, 3.0])
    with pytest.raises(GraphTypeError, match="dtype and ndim"):
        clone_replace([out], {mid: T.matrix("m")})


def test_clone_replace_copy_inputs():
    x = T.vector("x")
    w = symrnn.shared(np.ones(2))
    out = x * w
    [new] = clone_replace([out], copy_inputs=True)
    leaves = graph_inputs([new])
    assert x not in leaves and w in leaves


def test_to_networkx_attributes():
    x = T.matrix("x")
    w = symrnn.shared(np.ones((3, 2)), name="W")
    out = T.tanh(T.dot(x, w))
    g = to_networkx(out)
    assert isinstance(g, nx.DiGraph)
    assert nx.is_directed_acyclic_graph(g)
    ops = sorted(d["op"] for _, d in g.nodes(data=True) if d["kind"] == "apply")
    assert ops == ["dot", "tanh"]
    roles = {d["name"]: d["role"] for _, d in g.nodes(data=True) if d["kind"] == "variable" and d["name"]}
    assert roles == {"x": "input", "W": "shared"}
    outputs = [d for _, d in g.nodes(data=True) if "output" in d]
    assert len(outputs) == 1 and outputs[0]["type"] == "float64(?, ?)"
    assert symrnn.to_networkx is to_networkx


def test_apply_rejects_non_variables():
    from symrnn.graph import Apply

    with pytest.raises(GraphTypeError, match="not a symbolic variable"):
        Apply(T.exp.op, [np.zeros(3)], [TensorType("float64", (3,))])


def test_user_line_points_at_caller():
    x = T.vector("x")
    assert x.trace.endswith(f"test_graph.py:{sys._getframe().f_lineno - 1}")
    y = T.exp(x)
    assert y.owner.trace.endswith(f"test_graph.py:{sys._getframe().f_lineno - 1}")


def test_errors_are_shape_or_type_errors():
    assert issubclass(GraphShapeError, ValueError)
    assert issubclass(GraphTypeError, TypeError)
