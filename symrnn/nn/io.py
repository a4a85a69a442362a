"""Saving and loading parameters as ``.npz`` archives, never with pickle.

``params`` is a cell or a layer, a list of them, a dict ``name -> shared
variable``, or a list of shared variables.  Cells and layers save each
parameter under its full, unique name (``encoder/lstm/W_i``, see
``symrnn.nn.naming``), shared variables under their ``.name``, and a dict under
its keys.  The archive holds one plain array per name.

Loading checks the whole file against the parameters before it changes any
of them: a missing array is a ``KeyError``, a wrong shape or dtype (or, with
``strict=True``, an array with no parameter) a ``ValueError``, each naming the
array, and then every parameter keeps its old value.

Example::

    >>> import numpy as np, os, tempfile, symrnn
    >>> W = symrnn.shared(np.arange(6.0).reshape(2, 3), name="W")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> save_params(path, {"W": W})
    >>> W.set_value(np.zeros((2, 3)))
    >>> load_params(path, {"W": W})
    >>> W.get_value()
    array([[0., 1., 2.],
           [3., 4., 5.]])
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from symrnn.files import atomic_write
from symrnn.graph import SharedVariable, Variable
from symrnn.nn.naming import collect_params


def as_param_dict(params: Any, fn: str = "save_params") -> dict[str, SharedVariable]:
    """``params`` as an ordered ``name -> shared variable`` dict (see the module docstring).

    Example::

        >>> import numpy as np, symrnn
        >>> a = symrnn.shared(np.zeros(2), name="a")
        >>> list(as_param_dict([a]))
        ['a']
    """
    layers = params if isinstance(params, (list, tuple)) else [params]
    if any(hasattr(layer, "named_parameters") for layer in layers):
        try:
            return dict(collect_params(*layers))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{fn}: {exc}") from None
    if hasattr(params, "params") and not isinstance(params, (Mapping, list, tuple, Variable)):
        params = params.params
    if isinstance(params, Variable):
        raise TypeError(f"{fn}: params must be a dict of shared variables (or a list), got the single variable "
                        f"{params!r}")
    if isinstance(params, Mapping):
        items = list(params.items())
    else:
        items = []
        for i, p in enumerate(params):
            if not isinstance(p, SharedVariable) or not p.name:
                raise TypeError(f"{fn}: params[{i}] is {p!r}; a list of parameters must hold named shared "
                                f"variables (or pass a dict name -> shared variable)")
            items.append((p.name, p))
    out: dict[str, SharedVariable] = {}
    for name, p in items:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{fn}: parameter names must be non-empty strings, got {name!r}")
        if not isinstance(p, SharedVariable):
            raise TypeError(f"{fn}: parameter {name!r} is {p!r}, not a shared variable")
        if name in out:
            raise ValueError(f"{fn}: two parameters are named {name!r}")
        out[name] = p
    return out


def save_params(path: str | os.PathLike, params: Any) -> None:
    """Write each parameter's current value into the ``.npz`` archive ``path``, atomically.

    The archive is what ``np.savez`` writes (one ``NAME.npy`` member per
    parameter), written to a temporary file beside ``path`` and then moved over
    it, so that a failed save leaves the old file intact.  Any name works,
    including ``allow_pickle`` and ``file``, which ``np.savez`` would take as its
    own arguments.  As with ``np.savez``, ``.npz`` is appended to a path without it.

    Example::

        >>> import numpy as np, os, tempfile, symrnn
        >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
        >>> save_params(path, {"b": symrnn.shared(np.ones(2), name="b")})
        >>> sorted(np.load(path).files)
        ['b']
    """
    arrays = {name: p.get_value() for name, p in as_param_dict(params, "save_params").items()}
    path = os.fspath(path)
    if not path.endswith(".npz"):
        path += ".npz"
    with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                npy_format.write_array(member, np.asanyarray(value), allow_pickle=False)


def _resolve(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    if not os.path.exists(path) and not path.endswith(".npz") and os.path.exists(path + ".npz"):
        return path + ".npz"  # what np.savez wrote for this path
    return path


def load_params(path: str | os.PathLike, params: Any, strict: bool = True) -> None:
    """Set each parameter from the array of the same name in the ``.npz`` archive ``path``.

    Every array is checked before any parameter changes:

    - a parameter with no array in the file: ``KeyError`` naming the array and the file;
    - an array whose shape or dtype differs from the parameter's current value:
      ``ValueError`` naming the array, the expected and the found shape/dtype;
    - with ``strict=True`` (the default), an array in the file that matches no
      parameter: ``ValueError`` naming it;
    - an object array (which would need pickle): ``ValueError``; the file is
      read with ``allow_pickle=False``, so it never runs pickled code;
    - a file that is not a readable ``.npz`` archive, or an array that is
      truncated or whose header is unreadable: ``ValueError`` naming the file
      (and the array).

    Shapes and dtypes are checked from each array's header before its data are
    read, so a header that claims a huge array is refused without allocating it.

    Example::

        >>> import numpy as np, os, tempfile, symrnn
        >>> path = os.path.join(tempfile.mkdtemp(), "p.npz")
        >>> np.savez(path, b=np.ones(3))
        >>> b = symrnn.shared(np.zeros(2), name="b")
        >>> load_params(path, {"b": b})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
            ...
        ValueError: load_params: array 'b' in ...p.npz has shape (3,), but the parameter expects (2,)
    """
    targets = as_param_dict(params, "load_params")
    path = _resolve(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"load_params: {path} is not a plain .npz archive, or it is unreadable ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"load_params: {path} is a single .npy array, not an .npz archive of named arrays")
    loaded: dict[str, np.ndarray] = {}
    with archive:
        files = list(archive.files)
        missing = [name for name in targets if name not in files]
        if missing:
            raise KeyError(f"load_params: no array named {', '.join(map(repr, missing))} in {path} "
                           f"(it holds {sorted(files)}); a layer made without name= is named after its kind, "
                           f"made unique in the process (lstm, lstm_1...): pass name= to fix its name")
        extra = [name for name in files if name not in targets]
        if strict and extra:
            raise ValueError(f"load_params: {path} holds array(s) {', '.join(map(repr, extra))} that match no "
                             f"parameter; pass strict=False to ignore them")
        for name, p in targets.items():
            where = f"array {name!r} in {path}"
            shape, dtype = _header(archive, name, where)
            if dtype.hasobject:
                raise ValueError(f"load_params: {where} holds Python objects, which cannot be loaded without "
                                 f"pickle, and load_params never uses pickle")
            current = p.get_value(borrow=True)
            if shape != current.shape:  # checked before reading: a header may claim any size
                raise ValueError(f"load_params: {where} has shape {shape}, but the parameter expects "
                                 f"{current.shape}")
            if dtype != current.dtype:
                raise ValueError(f"load_params: {where} has dtype {dtype}, but the parameter expects "
                                 f"{current.dtype}")
            try:
                value = archive[name]
            except (ValueError, OSError, EOFError, MemoryError, zipfile.BadZipFile) as exc:
                raise ValueError(f"load_params: {where} is truncated or unreadable ({exc})") from None
            loaded[name] = value
    for name, value in loaded.items():
        targets[name].set_value(value)


def _header(archive: Any, name: str, where: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype that member ``name`` of an open ``.npz`` archive declares, read without its data."""
    try:
        with archive.zip.open(name + ".npy") as member:
            version = npy_format.read_magic(member)
            read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read(member)
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise ValueError(f"load_params: {where} has no readable .npy header ({exc})") from None
    return tuple(shape), np.dtype(dtype)


__all__ = ["save_params", "load_params", "as_param_dict"]
