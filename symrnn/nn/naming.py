"""Unique, hierarchical parameter names: ``encoder/lstm/W_i``.

Every cell and layer has a full name: the enclosing :func:`name_scope`\\ s, then
its own name.  A layer made without ``name=`` takes its kind (``lstm``), made
unique in this process as Keras does (``lstm``, ``lstm_1``, ``lstm_2``...), so
that two default-named layers never share parameter names.  A parameter's
full name is ``<layer's full name>/<key>``; it is the shared variable's
``.name`` and its key in the layer's ``.params``, so merging two layers'
``params`` dicts loses nothing.  ``layer.params["W_i"]`` still finds
``lstm/W_i``: a key without the layer's prefix is looked up under it.

Example::

    >>> from symrnn import nn
    >>> with nn.name_scope("encoder"):
    ...     cell = nn.LSTMCell(3, 4, seed=0, name="lstm")
    >>> list(cell.params)[:2], cell.params["W_i"].name
    (['encoder/lstm/W_i', 'encoder/lstm/W_f'], 'encoder/lstm/W_i')
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from symrnn.graph import SharedVariable
from symrnn.graph import name_scope as graph_name_scope

_state = threading.local()  # .scopes: the open name scopes of this thread
_lock = threading.Lock()
_default_names_taken: set[str] = set()
_NAME = re.compile(r"[^/\s][^/]*(/[^/\s][^/]*)*")  # non-empty parts separated by single slashes


def _scopes() -> list[str]:
    if not hasattr(_state, "scopes"):
        _state.scopes = []
    return _state.scopes


def _check_name(name: Any, who: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith(" "):
        raise ValueError(f"{who}: a name must be a non-empty string of parts separated by single '/', "
                         f"got {name!r}")
    return name


@contextmanager
def name_scope(name: str) -> Iterator[str]:
    """Prefix the names of the cells and layers made in this block with ``name/`` (scopes nest).

    The nodes built in the block are tagged with the scope too (``node.scope``);
    a cell or layer tags the nodes it builds with its own full name.

    Example::

        >>> from symrnn import nn
        >>> with nn.name_scope("decoder"):
        ...     nn.Dense(4, 2, seed=0, name="out").W.name
        'decoder/out/W'
    """
    _check_name(name, "name_scope")
    _scopes().append(name)
    try:
        with graph_name_scope(name):  # the nodes built here are tagged too
            yield "/".join(_scopes())
    finally:
        _scopes().pop()


@contextmanager
def _absolute_scope(full_name: str) -> Iterator[None]:
    """Within this block names are made under ``full_name`` (a layer building its own cells)."""
    saved = _scopes()
    _state.scopes = [full_name] if full_name else []
    try:
        yield
    finally:
        _state.scopes = saved


def full_name(name: str | None, kind: str) -> str:
    """The full name of a new cell or layer: the open scopes, then ``name``, or ``kind`` made unique.

    Example::

        >>> reset_default_names()
        >>> full_name(None, "dense"), full_name(None, "dense"), full_name("head", "dense")
        ('dense', 'dense_1', 'head')
    """
    prefix = "/".join(_scopes())
    if name is not None:
        _check_name(name, kind)
        return f"{prefix}/{name}" if prefix else name
    base = f"{prefix}/{kind}" if prefix else kind
    with _lock:
        chosen, k = base, 0
        while chosen in _default_names_taken:
            k += 1
            chosen = f"{base}_{k}"
        _default_names_taken.add(chosen)
    return chosen


def reset_default_names() -> None:
    """Forget the default names given so far: the next default-named ``LSTMCell`` is ``lstm`` again.

    Useful in a notebook that rebuilds its model before loading saved parameters.

    Example::

        >>> from symrnn import nn
        >>> nn.reset_default_names()
        >>> nn.Dense(2, 2, seed=0).name
        'dense'
    """
    with _lock:
        _default_names_taken.clear()


class Params(OrderedDict):
    """A layer's parameters, ``full name -> shared variable``; a key without the layer's prefix finds one too.

    Example::

        >>> import numpy as np, symrnn
        >>> p = Params("dense")
        >>> p["dense/W"] = symrnn.shared(np.zeros(2), name="dense/W")
        >>> p["W"] is p["dense/W"], "W" in p, list(p)
        (True, True, ['dense/W'])
    """

    def __init__(self, owner: str = "", items: Any = ()) -> None:
        super().__init__(items)
        self.owner = owner

    def _full(self, key: Any) -> Any:
        return f"{self.owner}/{key}" if isinstance(key, str) else key

    def __missing__(self, key: Any) -> SharedVariable:
        full = self._full(key)
        if full != key and dict.__contains__(self, full):
            return dict.__getitem__(self, full)
        raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        return dict.__contains__(self, key) or dict.__contains__(self, self._full(key))

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default

    def local_items(self) -> list[tuple[str, SharedVariable]]:
        """``(key without the layer's prefix, parameter)`` pairs, in order."""
        cut = len(self.owner) + 1
        return [(name[cut:] if name.startswith(self.owner + "/") else name, var) for name, var in self.items()]


class HasParams:
    """What cells and layers share: a full ``name``, ``params`` by full name, and PyTorch's accessors."""

    name: str
    params: Params

    def _in(self, role: str = "") -> Any:
        """Tag the nodes built in this block ``<name>/<role>`` (``lstm/forget_gate``), or ``<name>`` alone."""
        return graph_name_scope(f"{self.name}/{role}" if role else self.name, absolute=True)

    def named_parameters(self) -> Iterator[tuple[str, SharedVariable]]:
        """``(full name, parameter)`` pairs, as ``torch.nn.Module.named_parameters()``.

        Example::

            >>> from symrnn import nn
            >>> [name for name, _ in nn.RNNCell(2, 3, seed=0, name="enc").named_parameters()]
            ['enc/W', 'enc/U', 'enc/b']
        """
        return iter(list(self.params.items()))

    def parameters(self) -> list[SharedVariable]:
        """The parameters, in order (``list(self.params.values())``)."""
        return list(self.params.values())


def collect_params(*layers: Any) -> OrderedDict[str, SharedVariable]:
    """Every parameter of ``layers`` (cells, layers, dicts or lists of shared variables) by its full name.

    Two different parameters with the same name are an error naming both
    owners; the same parameter reached twice (a layer and its own cell) is
    kept once.

    Example::

        >>> from symrnn import nn
        >>> emb, cell = nn.Embedding(10, 3, seed=0, name="emb"), nn.GRUCell(3, 4, seed=0, name="gru")
        >>> list(nn.params(emb, cell))[:3]
        ['emb/W', 'gru/W_z', 'gru/W_r']
    """
    out: OrderedDict[str, SharedVariable] = OrderedDict()
    owners: dict[str, str] = {}
    for k, layer in enumerate(layers):
        owner = getattr(layer, "name", None) or f"argument {k}"
        for name, var in _named(layer, k):
            if name in out and out[name] is not var:
                raise ValueError(f"params: two different parameters are named {name!r} (in {owners[name]!r} and "
                                 f"{owner!r}); give the layers distinct names (name=...) or build them inside "
                                 f"nn.name_scope(...)")
            out[name], owners[name] = var, owner
    return out


def _named(layer: Any, k: int) -> list[tuple[str, SharedVariable]]:
    if hasattr(layer, "named_parameters"):
        return list(layer.named_parameters())
    if isinstance(layer, Mapping):
        return list(layer.items())
    if isinstance(layer, SharedVariable):
        layer = [layer]
    if isinstance(layer, (list, tuple)):
        named = []
        for i, var in enumerate(layer):
            if not isinstance(var, SharedVariable) or not var.name:
                raise TypeError(f"params: argument {k}[{i}] is {var!r}, not a named shared variable")
            named.append((var.name, var))
        return named
    raise TypeError(f"params: argument {k} is {layer!r}: pass cells, layers, dicts or lists of shared variables")


__all__ = ["HasParams", "Params", "collect_params", "full_name", "name_scope", "reset_default_names"]
