"""The docs site (issue 16): ``mkdocs build --strict`` passes, and the API reference that mkdocstrings generates
holds what the modules export (each documented name of a module's ``__all__`` has its entry on its page)."""

import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Reference page (docs/reference/<page>.md, built as reference/<page>/index.html) -> the modules it documents.
PAGES = {
    "symrnn": ["symrnn"],
    "tensor": ["symrnn.tensor", "symrnn.tensor.nnet", "symrnn.tensor.shared_randomstreams"],
    "gradient": ["symrnn.gradient"],
    "scan": ["symrnn.scan", "symrnn.scan.checkpoints"],
    "compile": ["symrnn.compile.function", "symrnn.compile.io", "symrnn.compile.mode", "symrnn.compile.nanguardmode"],
    "distributed": ["symrnn.distributed"],
    "nn": ["symrnn.nn.cells", "symrnn.nn.recurrent", "symrnn.nn.layers", "symrnn.nn.losses", "symrnn.nn.optimizers",
           "symrnn.nn.init", "symrnn.nn.io", "symrnn.nn.interop", "symrnn.nn.article"],
    "viz": ["symrnn.viz"],
    "printing": ["symrnn.printing"],
    "lint": ["symrnn.lint"],
    "config": ["symrnn.config"],
    "files": ["symrnn.files"],
}


def _missing(*modules):
    return [m for m in modules if importlib.util.find_spec(m) is None]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    missing = _missing("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")
    if missing:
        pytest.skip(f"the docs tools are not installed ({', '.join(missing)}): pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})  # material's banner about its end of life
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert not re.search(r"^WARNING\b", proc.stderr, re.M), proc.stderr[-5000:]
    return out


def _page(site, page):
    return (site / "reference" / page / "index.html").read_text(encoding="utf-8")


def _anchors(html):
    return set(re.findall(r'<h\d id="([\w.]+)"', html))


def test_every_reference_page_is_built_with_its_modules(site):
    for page, modules in PAGES.items():
        assert (ROOT / "docs" / "reference" / f"{page}.md").exists(), page
        html = _page(site, page)
        for module in modules:
            assert f"::: {module}" in (ROOT / "docs" / "reference" / f"{page}.md").read_text(), (page, module)
            docstring = inspect.getdoc(importlib.import_module(module))
            if docstring:  # the module docstring's first words are rendered on the page
                first = re.sub(r"[`*]", "", docstring.split("\n")[0]).split()[:4]
                text = re.sub(r"<[^>]+>", "", html)
                assert " ".join(first) in re.sub(r"\s+", " ", text), (page, module, first)


def test_gradient_and_nn_pages_document_their_names(site):
    gradient = _page(site, "gradient")
    assert {"symrnn.gradient.verify_grad", "symrnn.gradient.Rop", "symrnn.gradient.Lop",
            "symrnn.gradient.jacobian"} <= _anchors(gradient)
    assert "central finite differences" in gradient  # verify_grad's docstring
    assert "&gt;&gt;&gt; verify_grad(lambda x:" in gradient  # its example, as a code block
    nn = _page(site, "nn")
    assert {"symrnn.nn.cells.LSTMCell", "symrnn.nn.cells.GRUCell", "symrnn.nn.cells.rnn", "symrnn.nn.layers.Dense",
            "symrnn.nn.optimizers.adam", "symrnn.nn.recurrent.LSTM"} <= _anchors(nn)


def _resolve(path):
    """The object a reference anchor such as ``symrnn.nn.cells.LSTMCell.step`` names, or None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def test_each_documented_export_has_its_entry(site):
    """Every class or function in a module's ``__all__`` that has a docstring has an entry in the reference: on its
    module's page under the name it is exported as, or, for a re-export, wherever the object itself is documented."""
    documented = {id(_resolve(anchor)) for page in PAGES for anchor in _anchors(_page(site, page))}
    absent = []
    for page, modules in PAGES.items():
        anchors = _anchors(_page(site, page))
        for module_name in modules:
            module = importlib.import_module(module_name)
            for name in getattr(module, "__all__", []):
                obj = getattr(module, name)
                if (inspect.isclass(obj) or inspect.isfunction(obj)) and inspect.getdoc(obj):
                    if f"{module_name}.{name}" not in anchors and id(obj) not in documented:
                        absent.append(f"{module_name}.{name} (reference/{page})")
    assert not absent, absent


def test_the_hand_written_api_page_is_gone_and_the_site_links_to_the_reference(site):
    assert not (ROOT / "docs" / "api.md").exists()
    assert not (site / "api").exists()
    for md in [*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]:
        assert "api.md" not in md.read_text(encoding="utf-8"), md
    assert 'href="reference/"' in (site / "index.html").read_text(encoding="utf-8")
