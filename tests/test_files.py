"""Atomic writes: a failed write leaves the old file whole, and every file symrnn writes goes through them."""

import ast
import os
import pathlib

import numpy as np
import pytest

import symrnn
import symrnn.tensor as T
from symrnn import files, viz
from symrnn.nn.io import save_params


def test_a_completed_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")
    files.write_text(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"old contents")
    with pytest.raises(RuntimeError, match="disk full"):
        with files.atomic_write(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("disk full")
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_permissions_are_those_of_a_plain_open_or_of_the_replaced_file(tmp_path):
    fresh = tmp_path / "fresh.txt"
    files.write_text(fresh, "x")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert fresh.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    os.chmod(plain, 0o640)
    files.write_text(plain, "y")
    assert plain.stat().st_mode & 0o777 == 0o640


def test_only_whole_new_files_are_written(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with files.atomic_write(tmp_path / "a", "a"):
            pass


def _fail_replace(monkeypatch):
    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", refuse)


def test_pictures_and_parameters_keep_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    x = T.vector("x")
    picture, params = tmp_path / "g.dot", tmp_path / "p.npz"
    viz.render([T.exp(x)], picture)
    save_params(params, {"W": symrnn.shared(np.ones(3), name="W")})
    before = picture.read_bytes(), params.read_bytes()
    _fail_replace(monkeypatch)
    with pytest.raises(OSError, match="No space"):
        viz.render([T.tanh(x)], picture)
    with pytest.raises(OSError, match="No space"):
        save_params(params, {"W": symrnn.shared(np.zeros(3), name="W")})
    assert (picture.read_bytes(), params.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "p.npz"]


def _writes_outside_files_py() -> list[str]:
    """Calls in symrnn/ that open a file for writing, or save an array or figure to a path, by themselves."""
    found = []
    for path in sorted(pathlib.Path(symrnn.__file__).parent.rglob("*.py")):
        if path.name == "files.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            modes = [a.value for a in node.args[1:2] + [k.value for k in node.keywords if k.arg == "mode"]
                     if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            writes = isinstance(node.func, ast.Name) and name == "open" and any(set(m) & set("wax") for m in modes)
            method = isinstance(node.func, ast.Attribute)  # path.write_text(...); a bare write_text is files'
            to_path = (name in ("savez", "savez_compressed", "save", "savefig", "tofile") and node.args
                       and not isinstance(node.args[0], ast.Name)) or (method and name in ("write_bytes", "write_text"))
            if writes or to_path:
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)[:60]}")
    return found


def test_every_file_symrnn_writes_goes_through_atomic_write():
    assert _writes_outside_files_py() == []
