"""The layers hold (docs/architecture.md): every import in ``symrnn/``, function bodies included, goes down.

``lint-imports`` checks the same contracts in CI; this test reads them from
``pyproject.toml`` and checks every ``import`` statement that ``ast`` finds, so
that an import hidden inside a function, or under ``TYPE_CHECKING``, cannot
dodge the order.
"""

from __future__ import annotations

import ast
import pathlib
from dataclasses import dataclass

import networkx as nx
import pytest

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs tomllib (Python 3.11 or newer)")

REPO = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "symrnn"

# The package's own __init__ re-exports the public API from every layer, so it sits above all of them but the
# two commands that are written like user scripts (``import symrnn``).
ROOT_IMPORTED_BY = ("symrnn.demo", "symrnn.cli")

# Third-party packages that may be imported inside a function: optional extras, which must not be needed to
# import symrnn, and networkx, a required dependency that costs about 0.2 s to import and serves only exports.
IMPORTED_ON_FIRST_USE = {"numba", "cupy", "matplotlib", "tqdm", "networkx", "jax", "platformdirs"}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    in_function: bool


def module_paths() -> dict[str, pathlib.Path]:
    paths = {}
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        paths[".".join(parts)] = path
    return paths


def imports_in(module: str, source: str, known: set[str], is_package: bool = False) -> list[Import]:
    """Every import statement of ``module``'s source, resolved to the modules it names."""
    tree = ast.parse(source)
    in_function: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]
        else:
            continue
        for target in dict.fromkeys(targets):
            found.append(Import(module, target, node.lineno, id(node) in in_function))
    return found


def all_imports() -> list[Import]:
    paths = module_paths()
    return [imp for name, path in paths.items()
            for imp in imports_in(name, path.read_text(), set(paths), path.name == "__init__.py")]


def layer_contracts() -> list[dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return [c for c in config["contracts"] if c["type"] == "layers"]


def position(contract: dict, module: str) -> tuple[str, int, str, str] | None:
    """``(container, layer index from the top, separator, member)`` of ``module`` in a layers contract."""
    for container in contract["containers"]:
        if not module.startswith(container + "."):
            continue
        child = module[len(container) + 1:].split(".")[0]
        for index, layer in enumerate(contract["layers"]):
            separator = "|" if "|" in layer else ":"
            if child in [m.strip() for m in layer.split(separator)]:
                return container, index, separator, child
    return None


def violations(imports: list[Import]) -> list[str]:
    """Every import of a higher layer (or of an independent sibling), named with its file and line."""
    found = []
    for imp in imports:
        if not imp.imported.startswith(PACKAGE):
            continue
        where = f"{imp.importer} (line {imp.line}{', inside a function' if imp.in_function else ''})"
        if imp.imported == PACKAGE and not imp.importer.startswith(ROOT_IMPORTED_BY):
            found.append(f"{where} imports the package root {PACKAGE}, which imports every layer")
            continue
        for contract in layer_contracts():
            above, below = position(contract, imp.importer), position(contract, imp.imported)
            if above is None or below is None or above[0] != below[0]:
                continue
            if below[1] < above[1]:
                found.append(f"{where} imports {imp.imported}, a higher layer ({contract['name']})")
            elif below[1] == above[1] and below[3] != above[3] and above[2] == "|":
                found.append(f"{where} imports {imp.imported}, an independent sibling ({contract['name']})")
    return found


def import_cycles(imports: list[Import]) -> list[list[str]]:
    graph = nx.DiGraph()
    graph.add_edges_from((i.importer, i.imported) for i in imports
                         if i.imported.startswith(PACKAGE) and i.imported != i.importer)
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_module_imports_a_higher_layer():
    assert violations(all_imports()) == []


def test_no_import_cycles():
    assert import_cycles(all_imports()) == []


def test_imports_inside_functions_are_only_optional_packages():
    hidden = [f"{i.importer} (line {i.line}) imports {i.imported}" for i in all_imports()
              if i.in_function and i.imported.split(".")[0] not in IMPORTED_ON_FIRST_USE]
    assert hidden == []


def test_every_module_has_a_layer():
    modules = [m for m in module_paths() if m.count(".") == 1]
    top = next(c for c in layer_contracts() if c["containers"] == [PACKAGE])
    assert [m for m in modules if position(top, m) is None] == []


# The checks above can fail: they find a back-edge hidden in a function, an independent sibling and a cycle.

def test_the_check_finds_an_import_of_a_higher_layer_inside_a_function():
    source = "def log(x):\n    from symrnn.rewrite.canonical import fold_constants\n    return x\n"
    found = violations(imports_in("symrnn.ops.elemwise", source, set(module_paths())))
    assert found == ["symrnn.ops.elemwise (line 2, inside a function) imports symrnn.rewrite.canonical, a higher "
                     "layer (symrnn's layers: imports go down the pipeline)"]


def test_the_check_finds_a_family_using_a_higher_family_and_an_independent_sibling():
    known = set(module_paths())
    assert violations(imports_in("symrnn.ops.shape", "from symrnn.ops.indexing import getitem\n", known))
    assert violations(imports_in("symrnn.ops.blas", "from symrnn.ops import nnet\n", known))
    assert violations(imports_in("symrnn.ops.blas", "from symrnn.ops import shape\n", known)) == []


def test_the_check_finds_a_cycle():
    imports = [Import("symrnn.ops.shape", "symrnn.ops.indexing", 1, True),
               Import("symrnn.ops.indexing", "symrnn.ops.shape", 1, False)]
    assert import_cycles(imports) == [["symrnn.ops.indexing", "symrnn.ops.shape"]]
