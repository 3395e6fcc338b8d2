"""Imports point down, never in a circle, and no file grows past 400 lines (issue 21).

railway_sync's packages are layers, lowest first: the bottom modules (``errors``, ``conf``,
``report``, ``dburl``), ``pg`` (PostgreSQL itself), ``schema`` with ``operations`` (the shape of the
tables), ``engine`` (moving rows), ``operator`` (the admin's pages) and ``management`` (the
commands). A module imports from its own layer or below. The Django glue (models, apps,
routers, checks, the admin shim, the sample data, template tags, the database backend, the
migrations) may import anything; the layers import none of it but ``models``, which imports
nothing of railway_sync, and (the commands only: ``railway_demo``) the sample data.

Every import counts: inside a function, under ``if TYPE_CHECKING:``, relative,
``from railway_sync import x``, ``importlib.import_module("railway_sync...")``. A lazy import
that dodges a cycle is still the cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import PROJECT_DIR

PACKAGE = "railway_sync"
# Layer of each top-level name in the package, lowest first. The package's own
# ``__init__`` (a docstring) sits at the bottom.
LAYERS = {
    "__init__": 0,
    "errors": 0,
    "conf": 0,
    "report": 0,
    # Database URLs: project settings import it by this public path, before Django is set up.
    "dburl": 0,
    "pg": 1,
    "schema": 2,
    # Generated migration files import it by this path; it is the schema layer's vocabulary.
    "operations": 2,
    "engine": 3,
    "operator": 4,
    "management": 5,
}
LAYER_NAMES = ["bottom", "pg", "schema", "engine", "operator", "management"]
GLUE = {
    "models",
    "apps",
    "routers",
    "checks",
    "admin",
    "sample",
    "templatetags",
    "backends",
    "railway_schema",
    "migrations",
}
# The glue the layers may import, from which layer up: the models (unmanaged, of the synced
# tables, and SyncRun) from any, the sample data from the commands (``railway_demo`` loads it).
IMPORTABLE_GLUE = {"models": 0, "sample": LAYERS["management"]}
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    """One import of a railway_sync module: where it is and what it names."""

    source: str  # the importing module, dotted
    target: str  # the imported module, dotted
    where: str  # file:line
    # The module named, when ``target`` is a package Python loads first to import it.
    via: str = ""

    @property
    def line(self) -> int:
        return int(self.where.rpartition(":")[2])

    def __str__(self) -> str:
        if self.via:
            return f"{self.where} imports {self.via} (loading {self.target} first)"
        return f"{self.where} imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    """``railway_sync.pg.failures`` for ``<root>/railway_sync/pg/failures.py``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def python_files(root: Path) -> list[Path]:
    return sorted((root / PACKAGE).rglob("*.py"))


def imports_of(path: Path, root: Path, modules: set[str]) -> Iterator[Import]:
    """Every import of a module of the package in ``path``, wherever it stands in the file.

    ``from a.b import c`` names the module ``a.b.c`` when there is one, else ``a.b`` (``c``
    is a name in it); relative imports are resolved against ``path``'s package.
    """
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    where = path.relative_to(root)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.append(child if child in modules else base)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            targets = [node.args[0].value]
        for target in targets:
            if target == PACKAGE or target.startswith(PACKAGE + "."):
                yield Import(name, _known(target, modules), f"{where}:{node.lineno}")


def _known(target: str, modules: set[str]) -> str:
    """``target``, or the longest module of the package it lies in (``a.b`` for ``a.b.c``
    when ``c`` is not a module)."""
    while target not in modules and "." in target:
        target = target.rpartition(".")[0]
    return target


def all_imports(root: Path) -> list[Import]:
    """Every import in the package, and for each, the packages Python loads before the
    module it names (``a.b.c`` loads ``a.b`` first, whose ``__init__`` may import more),
    unless the importing module lies inside that package already."""
    files = python_files(root)
    modules = {module_name(path, root) for path in files}
    found = []
    for path in files:
        for imported in imports_of(path, root, modules):
            found.append(imported)
            parts = imported.target.split(".")
            for end in range(2, len(parts)):
                package = ".".join(parts[:end])
                inside = imported.source == package or imported.source.startswith(package + ".")
                if package in modules and not inside:
                    found.append(
                        Import(imported.source, package, imported.where, via=imported.target)
                    )
    return sorted(found, key=lambda imported: (imported.source, imported.line))


def top(module: str) -> str:
    """The package's top-level name ``module`` lies in (``__init__`` for the package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(root: Path) -> list[str]:
    """Each import that points up a layer, or from a layer into the glue, with the rule."""
    found = []
    for imported in all_imports(root):
        if imported.via:
            continue  # the module it names is checked
        source, target = top(imported.source), top(imported.target)
        if source in GLUE:
            if source == "models":
                found.append(f"{imported} (models imports nothing of railway_sync)")
            continue
        if source not in LAYERS:
            found.append(f"{imported} ({source} is in no layer: add it to tests/test_layers.py)")
        elif target in GLUE:
            if LAYERS[source] < IMPORTABLE_GLUE.get(target, len(LAYER_NAMES)):
                found.append(
                    f"{imported} (the layers import no Django glue but models, and the "
                    "commands the sample data)"
                )
        elif target not in LAYERS:
            found.append(f"{imported} ({target} is in no layer: add it to tests/test_layers.py)")
        elif LAYERS[target] > LAYERS[source]:
            found.append(
                f"{imported} (up from {LAYER_NAMES[LAYERS[source]]} to "
                f"{LAYER_NAMES[LAYERS[target]]})"
            )
    return found


def import_cycles(root: Path) -> list[str]:
    """Each cycle of modules importing each other, as its imports in order (file:line).

    Per circle of modules, the shortest cycle through each import that crosses from one
    package into another (where a circle is usually cut); a circle inside one package gives
    the shortest cycle through each of its modules.
    """
    edges: dict[str, dict[str, Import]] = {}
    for imported in all_imports(root):
        edges.setdefault(imported.source, {}).setdefault(imported.target, imported)
    packages = {module_name(path, root) for path in (root / PACKAGE).rglob("__init__.py")}

    def package_of(module: str) -> str:
        return module if module in packages else module.rpartition(".")[0]

    cycles = []
    for component in _strongly_connected(edges):
        inside = [
            imported
            for module in sorted(component)
            for target, imported in sorted(edges.get(module, {}).items())
            if target in component
        ]
        if len(component) == 1 and not inside:
            continue
        crossing = [i for i in inside if package_of(i.source) != package_of(i.target)]
        for imported in crossing or inside:
            cycle = [imported, *_path(imported.target, imported.source, component, edges)]
            # Each cycle once, told from its first module.
            start = cycle.index(min(cycle, key=lambda step: step.source))
            cycles.append(" -> ".join(str(step) for step in cycle[start:] + cycle[:start]))
    return sorted(set(cycles))


def _strongly_connected(edges: dict[str, dict[str, Import]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def _path(
    start: str, end: str, component: set[str], edges: dict[str, dict[str, Import]]
) -> list[Import]:
    """The shortest chain of imports from ``start`` to ``end`` inside ``component``."""
    paths: dict[str, list[Import]] = {start: []}
    frontier = [start]
    while frontier and end not in paths:
        following = []
        for module in frontier:
            for target, imported in sorted(edges.get(module, {}).items()):
                if target in component and target not in paths:
                    paths[target] = [*paths[module], imported]
                    following.append(target)
        frontier = following
    return paths[end]  # a strongly connected component joins every two of its modules


def long_files(root: Path) -> list[str]:
    found = []
    for path in python_files(root):
        if "migrations" in path.relative_to(root).parts:
            continue
        lines = len(path.read_text().splitlines())
        if lines >= MAX_LINES:
            where = path.relative_to(root)
            found.append(f"{where}: {lines} lines (split it by concern below {MAX_LINES})")
    return found


def report(problems: list[str]) -> str:
    return "\n".join(["", *problems])


def test_imports_point_down_the_layers():
    problems = upward_imports(PROJECT_DIR)
    assert problems == [], report(problems)


def test_no_modules_import_each_other_in_a_circle():
    problems = import_cycles(PROJECT_DIR)
    assert problems == [], report(problems)


def test_every_file_is_under_400_lines():
    problems = long_files(PROJECT_DIR)
    assert problems == [], report(problems)


def test_every_top_level_name_has_a_place():
    names = {path.relative_to(PROJECT_DIR / PACKAGE).parts[0] for path in python_files(PROJECT_DIR)}
    names = {name.removesuffix(".py") for name in names}
    assert sorted(names - LAYERS.keys() - GLUE) == []


def test_the_layer_test_sees_every_way_of_importing(tmp_path):
    def write(relative: str, text: str) -> None:
        path = tmp_path / PACKAGE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    for package in ("", "pg/", "engine/", "operator/", "schema/"):
        write(f"{package}__init__.py", "")
    write("errors.py", "")
    write("models.py", "from railway_sync import errors\n")
    write("operator/admin.py", "site = None\n")
    write("sample.py", "")
    write("management/__init__.py", "")
    write("management/demo.py", "from railway_sync import models, sample\n")
    write("engine/load.py", "from railway_sync import models, sample\n")
    write("engine/plan.py", "from railway_sync.engine import guards\n")
    write(
        "engine/guards.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from railway_sync.engine.plan import Planner\n",
    )
    write("schema/catalog.py", "import railway_sync.pg.sql\n")
    # A package whose __init__ imports its modules is loaded before any of them is: reaching
    # operations.state from outside closes a circle through operations.tables.
    write("operations/__init__.py", "from railway_sync.operations.tables import Table\n")
    write("operations/tables.py", "def names():\n    from railway_sync.schema import files\n")
    write("operations/state.py", "")
    write("schema/files.py", "from railway_sync.operations.state import State\n")
    write("pg/sql.py", "from railway_sync import errors\n" + "x = 1\n" * 399)
    write(
        "pg/failures.py",
        "import importlib\n"
        "from railway_sync import models, errors\n"
        "from ..engine import plan\n"
        "def translate():\n"
        "    from railway_sync.operator.admin import site\n"
        "    importlib.import_module('railway_sync.schema.catalog')\n"
        "    import railway_sync.engine.guards\n",
    )

    assert upward_imports(tmp_path) == [
        "railway_sync/engine/load.py:1 imports railway_sync.sample (the layers import no Django "
        "glue but models, and the commands the sample data)",
        "railway_sync/models.py:1 imports railway_sync.errors "
        "(models imports nothing of railway_sync)",
        "railway_sync/pg/failures.py:3 imports railway_sync.engine.plan (up from pg to engine)",
        "railway_sync/pg/failures.py:5 imports railway_sync.operator.admin "
        "(up from pg to operator)",
        "railway_sync/pg/failures.py:6 imports railway_sync.schema.catalog (up from pg to schema)",
        "railway_sync/pg/failures.py:7 imports railway_sync.engine.guards (up from pg to engine)",
    ]
    assert import_cycles(tmp_path) == [
        "railway_sync/engine/guards.py:3 imports railway_sync.engine.plan -> "
        "railway_sync/engine/plan.py:1 imports railway_sync.engine.guards",
        "railway_sync/operations/__init__.py:1 imports railway_sync.operations.tables -> "
        "railway_sync/operations/tables.py:2 imports railway_sync.schema.files -> "
        "railway_sync/schema/files.py:1 imports railway_sync.operations.state "
        "(loading railway_sync.operations first)",
    ]
    assert long_files(tmp_path) == [
        f"railway_sync/pg/sql.py: 400 lines (split it by concern below {MAX_LINES})"
    ]
