"""Writing files atomically: a new file is written next to the old one, then moved over it.

Every file symrnn writes (parameters, the demo's results, pictures, exported
code) goes through :func:`atomic_write`.  The data go to a temporary file in
the same folder, which is flushed to disk and then renamed over the target
with ``os.replace``, an atomic step: after any failure (a full disk, an
exception, a killed process) the old file is intact, and no temporary file is
left behind (except after a kill).

Example::

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with atomic_write(path, "w") as f:
    ...     _ = f.write("saved whole, or not at all")
    >>> open(path).read()
    'saved whole, or not at all'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

# mkstemp makes a file only its owner may read; a saved file gets the permissions a plain open() would give
# it (those of the file it replaces, or 0o666 less the umask).  Read once: setting the umask to read it is
# not thread-safe.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; when the block ends without an error, it replaces
    ``path``; when the block raises, it is removed and ``path`` keeps its old contents."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes a whole new file: mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, mode, **open_kwargs) as f:
            try:
                os.fchmod(f.fileno(), os.stat(path).st_mode & 0o7777)
            except FileNotFoundError:
                os.fchmod(f.fileno(), 0o666 & ~_UMASK)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path, "wb") as f:
        f.write(data)


__all__ = ["atomic_write", "write_text", "write_bytes"]
