"""Draw the pictures of docs/viz.md ("Seeing the graph") into docs/img/.

Run it from anywhere after changing the drawing code, and commit the SVGs:

    python docs/make_pictures.py            # writes docs/img/*.svg
    python docs/make_pictures.py --check    # fails if a committed picture is out of date

It needs Graphviz's ``dot``.  The pictures are deterministic (symrnn numbers
the nodes in graph order, seeds fix the weights), and small: Graphviz's
comments are stripped, and big graphs are drawn with their loops collapsed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

import symrnn
import symrnn.tensor as T
from symrnn import nn, viz
from symrnn.nn.article import SharedPreactLSTMCell
from symrnn.nn.optimizers import adam

HERE = os.path.dirname(os.path.abspath(__file__))
IMG = os.path.join(HERE, "img")


def pictures() -> dict[str, object]:
    """Each picture's file name and the ``graphviz.Digraph`` that draws it."""
    x = T.tensor3("x")
    out: dict[str, object] = {}

    # 1. An RNN over time: the scan cluster holding one step.
    rnn = nn.RNNCell(3, 4, seed=0)
    h, _ = nn.rnn(rnn, x)
    out["rnn.svg"] = viz.to_dot({"h": h}, title="nn.rnn(RNNCell(3, 4), x)")

    # 2. Its gradient: the forward loop and the backward loop (BPTT).
    cost = T.mean(h[-1] ** 2)
    params = list(rnn.params.values())
    grads = symrnn.grad(cost, params)
    out["rnn_grad.svg"] = viz.to_dot({"cost": cost, **{f"d cost / d {p.name}": g for p, g in zip(params, grads)}},
                                     collapse="cells", show_types=False,
                                     title="cost and its gradient: forward and backward loops")

    # 3. The articles' buggy LSTM: one pre-activation, one sigmoid, used as three gates.
    buggy = SharedPreactLSTMCell(3, 4, seed=0)
    hb, _ = nn.rnn(buggy, x)
    out["buggy_lstm.svg"] = viz.to_dot({"h": hb}, title="the articles' LSTM: one sigmoid serves i, f and o")

    # 4. A correct LSTM, as built and as compiled, loops collapsed.
    lstm = nn.LSTMCell(3, 4, seed=0)
    hl, _ = nn.rnn(lstm, x)
    f = symrnn.function([x], hl)
    out["lstm_compare.svg"] = viz.compare(f, collapse="cells", output_labels=["h"])

    # 5. The compiled LSTM's step: the four gates' products merged into one.
    out["lstm_compiled.svg"] = viz.to_dot(f, output_labels=["h"], legend=False,
                                          title="the compiled LSTM: one matrix product per step for all gates")

    # 6. The LSTM's step with each gate in a cluster of its own (name scopes).
    out["lstm_scopes.svg"] = viz.to_dot({"h": hl}, cluster_scopes=True, legend=False, rankdir="LR",
                                        title="an LSTM's step: one cluster per gate")

    # 7. An LSTM training step (mse, Adam) as an overview: one box per name scope or loop.
    y = T.tensor3("y")
    loss = nn.losses.mse(hl, y)
    train = symrnn.function([x, y], loss, updates=adam(loss, list(lstm.params.values())))
    out["lstm_overview.svg"] = viz.to_dot(train, overview=True, title="an LSTM training step: an overview")

    # 8. The RNN's cost and its gradient side by side, for learning backpropagation through time.
    out["rnn_learn.svg"] = viz.learn(cost, params, collapse="cells",
                                     title="cost = mean(h[-1] ** 2) and its gradient")
    return out


def svg_of(dot: object) -> str:
    svg = dot.pipe(format="svg", encoding="utf-8")  # type: ignore[attr-defined]
    return re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed pictures; write nothing")
    args = parser.parse_args(argv)
    os.makedirs(IMG, exist_ok=True)
    stale = []
    for name, dot in pictures().items():
        path = os.path.join(IMG, name)
        svg = svg_of(dot)
        if args.check:
            old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
            if old != svg:
                stale.append(name)
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(svg)
        print(f"{path}: {len(svg) // 1024} KiB")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python docs/make_pictures.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
