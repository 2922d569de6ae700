"""The package's layers and its import graph, read statically.

Layers, lowest first: the library core (everything at the top of ``spikesparse/`` and its
sub-packages other than the two below: ``api``, ``regularizers``, ``neurons``, ``interop``, ...),
the study's workflow code (``spikesparse.study``), tooling (``spikesparse.tools``) and the
command line (``spikesparse.cli``, ``spikesparse.__main__``), which dispatches to all of them. A
module imports its own layer and the layers below it, never one above; and no modules import each
other in a circle. Every import counts, wherever it stands: at the top, inside a function (a lazy
import), under ``if TYPE_CHECKING``, and a string that is exactly a module's dotted name
(``importlib.import_module("spikesparse....")``, a preload list). The checks run on a planted
tree too, so each is shown to be able to fail.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "src" / "spikesparse"
LAYERS = ("core", "study", "tools", "cli")  # lowest first


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module of the package in folder ``root``."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def layer(module: str) -> str:
    """The layer of a dotted module name (its package's own name first)."""
    parts = module.split(".")[1:]
    if not parts:
        return "core"  # the package's __init__: its version, nothing else
    if parts[0] in ("cli", "__main__"):
        return "cli"
    if parts[0] in ("study", "tools"):
        return parts[0]
    return "core"


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import node (or a string constant) may name, most specific first."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        # ``from x import y``: the module x.y when there is one, else the module x
        return [f"{target}.{alias.name}|{target}" for alias in node.names]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return []


def import_graph(root: Path) -> dict[str, dict[str, int]]:
    """Module -> {imported module of the same package: line of the first such import}."""
    found = modules(root)
    graph: dict[str, dict[str, int]] = {}
    for module, path in found.items():
        edges: dict[str, int] = {}
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            is_string = isinstance(node, ast.Constant)
            for name in _imported(node, module, path.name == "__init__.py"):
                candidates = name.split("|")
                if is_string:
                    target = name if name in found else None  # only an exact module name counts
                else:
                    target = next((c for c in candidates if c in found), None)
                    if target is None and candidates[-1].split(".")[0] == root.name:
                        # ``import pkg.a.b`` of a name that is no module: its nearest module
                        target = next(
                            (p for p in _prefixes(candidates[-1]) if p in found),
                            None,
                        )
                if target is not None and target != module:
                    edges.setdefault(target, node.lineno)
        graph[module] = edges
    return graph


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def layer_violations(root: Path) -> list[str]:
    """Every import of a module from a higher layer, as '<module> (<layer>) imports <module>
    (<layer>), line <n>'."""
    out = []
    for module, edges in import_graph(root).items():
        for target, line in sorted(edges.items()):
            if LAYERS.index(layer(target)) > LAYERS.index(layer(module)):
                out.append(f"{module} ({layer(module)}) imports {target} ({layer(target)}), line {line}")
    return out


def import_circles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph) + 100))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(circles)


# -- the package -----------------------------------------------------------------------------------


def test_the_reader_sees_every_layer_and_lazy_imports():
    """Guards the two checks below against passing on a graph the reader failed to build."""
    graph = import_graph(PACKAGE)
    assert {layer(m) for m in graph} == set(LAYERS)
    assert "spikesparse.study.config" in graph["spikesparse.cli"]  # a lazy import inside a command
    assert "spikesparse.study.split_counts" in graph["spikesparse.study.analysis.metric_catalog"]  # typing
    assert "spikesparse.study.evaluation" in graph["spikesparse.cli"]  # named in WARM_PRELOAD only
    assert "spikesparse.cli" in graph["spikesparse.__main__"]


def test_no_layer_imports_a_layer_above_it():
    """core never imports study, tools or the CLI; study never tools or the CLI; tools never the CLI."""
    assert layer_violations(PACKAGE) == []


def test_no_import_circle():
    assert import_circles(import_graph(PACKAGE)) == []


# -- the checks fail on planted violations -----------------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "pkg"


LEGAL = {
    "__init__.py": "",
    "api.py": "",
    "study/__init__.py": "",
    "study/config.py": "from ..api import x\n",
    "tools/__init__.py": "",
    "tools/warm.py": "from ..study import config\n",
    "cli.py": "from .tools import warm\nfrom .study.config import y\nfrom . import api\n",
}


def test_the_layer_check_passes_a_tree_whose_imports_point_down(tmp_path):
    pkg = _tree(tmp_path, LEGAL)
    assert layer_violations(pkg) == []
    assert import_graph(pkg)["pkg.cli"] == {"pkg.tools.warm": 1, "pkg.study.config": 2, "pkg.api": 3}


def test_the_layer_check_fails_on_each_kind_of_upward_import(tmp_path):
    pkg = _tree(
        tmp_path,
        {
            **LEGAL,
            # core -> study, lazily inside a function
            "api.py": "def f():\n    from .study import config\n    return config\n",
            # study -> tools, by a module name given to importlib
            "study/config.py": "import importlib\n\nwarm = importlib.import_module('pkg.tools.warm')\n",
            # tools -> cli, for typing only
            "tools/warm.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import pkg.cli\n",
            # core -> tools, absolute
            "neurons/__init__.py": "from pkg.tools.warm import run\n",
        },
    )
    assert layer_violations(pkg) == [
        "pkg.api (core) imports pkg.study.config (study), line 2",
        "pkg.neurons (core) imports pkg.tools.warm (tools), line 1",
        "pkg.study.config (study) imports pkg.tools.warm (tools), line 3",
        "pkg.tools.warm (tools) imports pkg.cli (cli), line 4",
    ]


def test_the_circle_check_finds_a_planted_circle(tmp_path):
    pkg = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from . import b\n",
            "b.py": "def later():\n    from .c import thing\n    return thing\n",  # lazy, still an edge
            "c.py": "from .a import something\n",
            "d.py": "from . import a\n",  # imports into the circle, not part of it
        },
    )
    assert import_circles(import_graph(pkg)) == [["pkg.a", "pkg.b", "pkg.c"]]
    (pkg / "c.py").write_text("x = 1\n")
    assert import_circles(import_graph(pkg)) == []
