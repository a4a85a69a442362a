"""Name scopes on nodes: cells and layers tag what they build (``lstm/forget_gate``), gradients ``grad/...``."""

import pickle
import threading
from collections import Counter

import symrnn
import symrnn.tensor as T
from symrnn import nn
from symrnn.graph import name_scope, toposort
from symrnn.nn.article import SharedPreactLSTMCell


def scopes_in_loop(outputs):
    """The scopes of the nodes inside the first loop among ``outputs``' ancestors."""
    loop = next(n for n in toposort(outputs) if type(n.op).__name__ == "Scan")
    return Counter(n.scope for n in toposort(loop.op.inner_outputs)), loop


def test_lstm_gates_are_tagged_by_name_inside_the_loop():
    cell = nn.LSTMCell(2, 3, seed=0)
    out, _ = nn.rnn(cell, T.tensor3("x"))
    inner, loop = scopes_in_loop([out])
    assert set(inner) == {f"lstm/{role}" for role in
                          ("input_gate", "forget_gate", "output_gate", "candidate", "cell", "hidden")}
    assert loop.scope == "lstm"
    assert {n.scope for n in toposort([out])} == {"lstm"}  # the loop's bookkeeping outside it too
    # each gate's pre-activation is in its own scope: two products, the adds and the sigmoid at least
    assert all(inner[f"lstm/{g}_gate"] >= 5 for g in ("input", "forget", "output"))


def test_gru_rnn_and_the_articles_cell_tag_their_roles():
    roles = {nn.GRUCell: {"update_gate", "reset_gate", "candidate", "hidden"}, nn.RNNCell: {"hidden"},
             SharedPreactLSTMCell: {"preactivation", "gates", "candidate", "cell", "hidden"}}
    for make, want in roles.items():
        cell = make(2, 3, seed=0)
        out, _ = nn.rnn(cell, T.tensor3("x"))
        inner, _ = scopes_in_loop([out])
        assert set(inner) == {f"{cell.name}/{role}" for role in want}, make.__name__


def test_layers_tag_their_nodes_and_user_scopes_nest():
    emb, dense = nn.Embedding(10, 4, seed=0), nn.Dense(4, 2, seed=0, activation=T.tanh)
    ids = T.imatrix("ids")
    with name_scope("model"):
        vectors = emb(ids)
        hidden = vectors * 2
        y = dense(hidden)
    assert vectors.owner.scope == "embedding"  # a layer's nodes take the layer's own full name
    assert hidden.owner.scope == "model"
    assert {n.scope for n in toposort([y]) if n not in toposort([hidden])} == {"dense"}


def test_nn_name_scope_names_the_layers_and_tags_the_nodes():
    with nn.name_scope("encoder"):
        cell = nn.GRUCell(2, 3, seed=0)
        x = T.matrix("x")
        doubled = x * 2
    assert doubled.owner.scope == "encoder"
    out, _ = nn.rnn(cell, T.tensor3("seq"))
    inner, _ = scopes_in_loop([out])
    assert "encoder/gru/update_gate" in inner


def test_pytorch_style_layers_tag_each_layer_and_direction():
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, seed=0)
    out, _ = lstm(T.tensor3("x"))
    loops = [n for n in toposort([out]) if type(n.op).__name__ == "Scan"]
    assert sorted(n.scope for n in loops) == ["lstm/l0", "lstm/l0_reverse", "lstm/l1", "lstm/l1_reverse"]
    assert out.owner.scope == "lstm"


def test_gradient_nodes_are_tagged_after_the_nodes_they_differentiate():
    cell = nn.LSTMCell(2, 3, seed=0)
    out, _ = nn.rnn(cell, T.tensor3("x"))
    g = symrnn.grad(out.sum(), cell.params["W_f"])
    loops = [n for n in toposort([g]) if type(n.op).__name__ == "Scan"]
    backward = [n for n in loops if any(s.startswith("grad/lstm/") for s in scopes_in_loop_of(n))]
    assert backward and backward[0].scope == "grad/lstm"
    inner = scopes_in_loop_of(backward[0])
    assert {"grad/lstm/forget_gate", "grad/lstm/input_gate", "grad/lstm/cell"} <= set(inner)


def scopes_in_loop_of(node):
    return Counter(n.scope for n in toposort(node.op.inner_outputs))


def test_user_graphs_outside_every_scope_are_untagged_and_grad_keeps_them_so():
    x = T.vector("x")
    y = T.tanh(x).sum()
    assert {n.scope for n in toposort([symrnn.grad(y, x)])} == {""}


def test_compiled_nodes_keep_their_scope_through_fusion():
    cell = nn.LSTMCell(2, 3, seed=0)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    f = symrnn.function([x], out)
    loop = next(n for n in f.nodes if type(n.op).__name__ == "Scan")
    inner = toposort(loop.op.inner_outputs)
    assert any("fused" in str(n.op) for n in inner)
    assert {n.scope.split("/")[0] for n in inner} == {"lstm"}
    # a node merged from several gates (their summed pre-activations) is the cell's; one gate's stays the gate's
    assert {n.scope for n in inner if "fused" in str(n.op)} <= {"lstm", "lstm/cell", "lstm/hidden"}
    assert {n.scope for n in inner if str(n.op) == "getitem[:, 0:3]"} == {"lstm/forget_gate"}


def test_scopes_survive_pickling_and_are_per_thread():
    with name_scope("outer"):
        y = T.exp(T.vector("x"))
    assert pickle.loads(pickle.dumps(y)).owner.scope == "outer"
    seen = {}
    inside, leave = threading.Event(), threading.Event()

    def worker():
        with name_scope("worker"):
            inside.set()
            leave.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = T.exp(T.vector("z")).owner.scope
    leave.set()
    t.join()
    assert seen["main"] == ""


def test_every_compiled_node_of_a_training_step_has_the_scope_of_what_it_computes():
    cell = nn.LSTMCell(2, 3, seed=0)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    loss = (out ** 2).sum()  # the user's own code, outside every scope
    f = symrnn.function([x], [loss, *symrnn.grad(loss, cell.parameters())])
    unscoped = [str(n.op) for n in f.nodes if not n.scope]
    assert unscoped == ["block_sum{sqr}"]  # the loss, fused: it stays the user's
    assert {n.scope.split("/")[0] for n in f.nodes if n.scope} == {"lstm", "grad"}
    assert all(n.scope.startswith("grad/lstm") for n in f.nodes if n.scope.startswith("grad"))


def test_optimizers_tag_their_update_arithmetic_and_leave_the_gradients_alone():
    for name in ("sgd", "momentum", "rmsprop", "adam"):
        cell = nn.RNNCell(2, 3, seed=0)
        x = T.tensor3("x")
        out, _ = nn.rnn(cell, x)
        loss = (out ** 2).sum()
        optimizer = getattr(nn.optimizers, name)
        updates = optimizer(loss, cell, learning_rate=0.1) if name != "adam" else optimizer(loss, cell)
        new_values = [new for _, new in updates]
        assert {v.owner.scope for v in new_values if v.owner is not None} == {name}, name
        grads_scopes = {n.scope for n in toposort(new_values)} - {name}
        assert grads_scopes and all(s == "" or s.startswith(("rnn", "grad/rnn")) for s in grads_scopes), name
