"""Packaging (issue 16): the wheel holds only the package (with py.typed), and ``python -m symrnn`` works."""

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
    """A folder beside the package whose name starts with "symrnn" (the demo's symrnn-out/) is not packaged."""
    (ROOT / "symrnn-out-packaging-probe").mkdir(exist_ok=True)
    (ROOT / "symrnn-out-packaging-probe" / "stray.py").write_text("x = 1\n")
    try:
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                               "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    finally:
        (ROOT / "symrnn-out-packaging-probe" / "stray.py").unlink()
        (ROOT / "symrnn-out-packaging-probe").rmdir()
    assert proc.returncode == 0, proc.stderr[-3000:]
    [wheel] = tmp_path.glob("symrnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"symrnn", next(t for t in tops if t.endswith(".dist-info"))}
    assert "symrnn/py.typed" in names and "symrnn/__main__.py" in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
