"""symrnn's hand-written graph traversals against networkx's, on the graphs symrnn walks: why networkx is used
only for export (``to_networkx``) and the viz layouts it offers.

    python benchmarks/traversals.py           # an LSTM training graph (with its loops' bodies) and a deep chain
    python benchmarks/traversals.py --quick   # checks that it runs, measures nothing

Each task runs in one process, interleaved with the order rotated.  networkx's
time includes building its ``DiGraph`` from the variables and nodes, which is
what using it for symrnn's walks would cost every time: symrnn's graphs are
rewritten constantly, so a networkx copy would not stay valid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import networkx as nx
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lstm import interleaved  # noqa: E402

import symrnn  # noqa: E402
import symrnn.tensor as T  # noqa: E402
from symrnn import nn  # noqa: E402
from symrnn.graph import ancestors, toposort  # noqa: E402


def lstm_graph() -> list[Any]:
    cell = nn.LSTMCell(8, 16, seed=0)
    x = T.tensor3("x")
    out, _ = nn.rnn(cell, x)
    loss = (out ** 2).mean()
    return [loss, *symrnn.grad(loss, list(cell.params.values()))]


def chain(n: int) -> list[Any]:
    x = T.dvector("x")
    y = x
    for _ in range(n):
        y = T.tanh(y) * 0.5 + x
    return [y]


def networkx_toposort(outputs: list[Any]) -> list[Any]:
    graph = nx.DiGraph()
    stack, seen = [v.owner for v in outputs if v.owner is not None], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        graph.add_node(id(node), node=node)
        for v in node.inputs:
            if v.owner is not None:
                graph.add_edge(id(v.owner), id(node))
                stack.append(v.owner)
    return [graph.nodes[k]["node"] for k in nx.topological_sort(graph)]


def networkx_ancestors(outputs: list[Any]) -> set[int]:
    graph = nx.DiGraph()
    for node in toposort(outputs):  # the same edges; building them is the cost networkx adds
        for v in node.inputs:
            graph.add_edge(id(v), id(node))
        for v in node.outputs:
            graph.add_edge(id(node), id(v))
    found = set()
    for v in outputs:
        found |= nx.ancestors(graph, id(v)) | {id(v)}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    graphs = {"lstm_training_graph": lstm_graph(), "chain": chain(100 if args.quick else 5000)}
    report: dict[str, Any] = {}
    for name, outputs in graphs.items():
        nodes = toposort(outputs)
        assert {id(n) for n in networkx_toposort(outputs)} == {id(n) for n in nodes}
        times = interleaved({"symrnn_toposort": lambda o=outputs: toposort(o),
                             "networkx_toposort": lambda o=outputs: networkx_toposort(o),
                             "symrnn_ancestors": lambda o=outputs: ancestors(o),
                             "networkx_ancestors": lambda o=outputs: networkx_ancestors(o)},
                            repeats=2 if args.quick else 15, pause=0)
        ms = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
        report[name] = {"nodes": len(nodes), "ms": ms,
                        "toposort_networkx_over_symrnn": ms["networkx_toposort"] / ms["symrnn_toposort"],
                        "ancestors_networkx_over_symrnn": ms["networkx_ancestors"] / ms["symrnn_ancestors"]}
        r = report[name]
        print(f"{name} ({r['nodes']} nodes): toposort {ms['symrnn_toposort']:.2f} ms, networkx "
              f"{ms['networkx_toposort']:.2f} ms (x{r['toposort_networkx_over_symrnn']:.1f}); ancestors "
              f"{ms['symrnn_ancestors']:.2f} ms, networkx {ms['networkx_ancestors']:.2f} ms "
              f"(x{r['ancestors_networkx_over_symrnn']:.1f})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)


if __name__ == "__main__":
    main()
