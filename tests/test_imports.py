"""The import rule, checked over the source (every import statement, function-level ones included):

    cli → api → training / report → models / data → torch

- no cycle between divekit modules, whatever the level of the import;
- no library module imports a CLI module (``divekit.cli``);
- a package imports only packages of its own layer or below (``LAYERS``); the from-scratch lessons
  (``divekit.scratch``) and the optimization lab (``divekit.optlab``) stand alone.

Imports inside ``if TYPE_CHECKING:`` are left out: they never run. ``from package import submodule`` counts as
importing the submodule (the package's ``__init__`` is at most being initialised already).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "divekit"
# lowest first; a module may import its own layer and the layers below
LAYERS: list[set[str]] = [
    {"divekit", "divekit._lazy", "divekit.errors", "divekit.machine", "divekit.options", "divekit.runs"},
    {"divekit.data", "divekit.models", "divekit.report", "divekit.speed", "divekit.scratch", "divekit.optlab"},
    {"divekit.diagnose"},
    {"divekit.training"},
    {"divekit.api", "divekit.tuning", "divekit.d2l"},
    {"divekit.cli", "divekit.__main__"},
]
STANDALONE = {"divekit.scratch", "divekit.optlab"}  # they read data and draw figures, and use nothing else


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(name: str) -> set[str]:
    """The divekit modules ``name`` imports anywhere in its source."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)) or _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:  # relative: resolve against this module's package
            package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
            base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
        submodules = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES}
        found.update(submodules)
        if len(submodules) < len(node.names):  # a name defined in the package itself, not only its submodules
            found.add(base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each a cycle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_of(name: str) -> str:
    """The layer entry a module belongs to: the longest entry of ``LAYERS`` that is it or contains it."""
    entries = [e for layer in LAYERS for e in layer if name == e or name.startswith(e + ".")]
    assert entries, f"{name} is in no layer of tests/test_imports.py: add its package to LAYERS"
    return max(entries, key=len)


def layer_of(name: str) -> int:
    package = package_of(name)
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def test_there_is_no_import_cycle():
    found = cycles(GRAPH)
    assert len(found) == 0, f"{len(found)} import cycle(s): {found}"


def test_no_library_module_imports_the_command_line():
    offenders = sorted((m, d) for m, deps in GRAPH.items() if layer_of(m) != layer_of("divekit.cli")
                       for d in deps if d == "divekit.cli" or d.startswith("divekit.cli."))
    assert not offenders, offenders


def test_imports_go_down_the_layers():
    upward = sorted((m, d) for m, deps in GRAPH.items() for d in deps if layer_of(d) > layer_of(m))
    assert not upward, f"imports against the layer order (module, imported): {upward}"


def test_the_lessons_and_the_lab_stand_alone():
    allowed = LAYERS[0] | STANDALONE | {"divekit.data", "divekit.report"}
    outside = sorted((m, d) for m, deps in GRAPH.items() if package_of(m) in STANDALONE for d in deps
                     if package_of(d) not in allowed)
    assert not outside, outside


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
])
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert cycles(graph) == expected
