"""Packaging (issue 16): the wheel holds only the package (with py.typed), and ``python -m symrnn`` works."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_dash_m_symrnn_is_the_command():
    proc = subprocess.run([sys.executable, "-m", "symrnn", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("symrnn ")


def test_the_wheel_holds_only_the_package(tmp_path):
    """A folder beside the package whose name starts with "symrnn" (the demo's symrnn-out/) is not packaged.
    The wheel is built from a copy, so that nothing is written into the checkout."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "venv", "build", "dist", "site",
                                                                "*.egg-info", "__pycache__", ".*_cache"))
    (source / "symrnn-out").mkdir(exist_ok=True)
    (source / "symrnn-out" / "stray.py").write_text("x = 1\n")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [wheel] = tmp_path.glob("symrnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"symrnn", next(t for t in tops if t.endswith(".dist-info"))}
    assert "symrnn/py.typed" in names and "symrnn/__main__.py" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
