"""Theano's ``theano.compile.io``: ``In`` and ``Out``, an input or an output of ``function()`` with options."""

from __future__ import annotations

from typing import Any

from symrnn.graph import Variable, user_line


class In:
    """An input with options, Theano's ``theano.In``: ``value`` is its default when the call omits it,
    ``name`` another name to pass it by, and ``update`` an expression that replaces the default after every
    call (an input with a state of its own, read and set as ``f[variable]`` or ``f["name"]``).  Theano's
    tuple forms are accepted in ``function()``'s inputs too: ``(variable, value)`` and
    ``((variable, update), value)``.

    Example::

        >>> import symrnn, symrnn.tensor as T
        >>> x, y = T.dscalars("x", "y")
        >>> f = symrnn.function([x, symrnn.In(y, value=1.0)], x + y)
        >>> f(2.0), f(2.0, 5.0)
        (array(3.), array(7.))
    """

    def __init__(self, variable: Variable, value: Any = None, name: str | None = None, borrow: bool = False,
                 mutable: bool = False, update: Variable | None = None) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"In: {variable!r} is not a symbolic variable")
        if update is not None and not isinstance(update, Variable):
            raise TypeError(f"In: update must be a symbolic expression, got {update!r} (at {user_line()})")
        if mutable:
            raise NotImplementedError("In(mutable=True) is not supported: symrnn never writes into inputs")
        self.variable, self.value, self.name, self.borrow, self.update = variable, value, name, borrow, update


class Out:
    """An output with options, Theano's ``theano.Out``.

    With ``borrow=True`` the function may return an array it keeps (an
    input's array, a shared variable's value, a constant's read-only data)
    instead of a copy, so the caller must not modify it, and a later call or
    update may change it.  With ``borrow=False`` (the default) every returned
    array is the caller's own.

    Example::

        >>> import numpy as np, symrnn, symrnn.tensor as T
        >>> from symrnn.compile.io import Out
        >>> w = symrnn.shared(np.arange(3.0), name="w")
        >>> f = symrnn.function([], Out(w, borrow=True))
        >>> f() is w.get_value(borrow=True)
        True
    """

    def __init__(self, variable: Variable, borrow: bool = False) -> None:
        if not isinstance(variable, Variable):
            raise TypeError(f"Out: {variable!r} is not a symbolic variable (at {user_line()})")
        self.variable, self.borrow = variable, bool(borrow)

    def __repr__(self) -> str:
        return f"Out({self.variable!r}, borrow={self.borrow})"


__all__ = ["In", "Out"]
