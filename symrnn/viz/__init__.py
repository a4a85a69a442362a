"""Seeing the graph: DOT/SVG pictures with scan clusters, an interactive HTML view and a networkx export.

- :func:`to_dot` / :func:`compare` / :func:`render` (``printing.pydotprint``
  is the Theano name for :func:`render`);
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

from symrnn.viz.dot import GraphvizNotFoundError, compare, escape_label, render, to_dot, to_networkx
from symrnn.viz.gradient_flow import GradientFlow, gradient_flow, plot_gradient_flow
from symrnn.viz.html import to_html

__all__ = ["GradientFlow", "GraphvizNotFoundError", "compare", "escape_label", "gradient_flow", "plot_gradient_flow",
           "render", "to_dot", "to_html", "to_networkx"]
