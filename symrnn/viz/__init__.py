"""Seeing the graph: DOT/SVG pictures with scan clusters, an interactive HTML view and a networkx export.

- :func:`to_dot` / :func:`compare` / :func:`render` (``printing.pydotprint``
  is the Theano name for :func:`render`): shape plumbing folded into the
  edges (``show_plumbing=True`` draws it), name scopes as clusters
  (``cluster_scopes=True``), one box per scope or loop (``overview=True``);
- :func:`learn`: a cost and its gradient side by side, each gradient node
  coloured like the forward scope it differentiates;
- :func:`to_html`: one self-contained HTML page with pan, zoom and a details
  panel per node;
- :func:`to_networkx`: a ``networkx.DiGraph`` with ``op``, ``type``, ``shape``
  and ``name`` on every node, inner scan graphs optionally included;
- :func:`gradient_flow`: the norm of dL/dh_t over time for a cell, as data and
  as a plot (vanishing gradients in an RNN against an LSTM or GRU).

Example::

    >>> import symrnn.tensor as T
    >>> from symrnn import viz
    >>> x = T.vector("x")
    >>> viz.to_dot(T.exp(x)).source.startswith("digraph symrnn")
    True
"""

from symrnn.viz.dot import (
    MAX_NODES,
    GraphvizNotFoundError,
    compare,
    count_nodes,
    escape_label,
    learn,
    render,
    to_dot,
    to_networkx,
)
from symrnn.viz.gradient_flow import GradientFlow, gradient_flow, plot_gradient_flow
from symrnn.viz.html import to_html

__all__ = ["MAX_NODES", "GradientFlow", "GraphvizNotFoundError", "compare", "count_nodes", "escape_label",
           "gradient_flow", "learn", "plot_gradient_flow", "render", "to_dot", "to_html", "to_networkx"]
