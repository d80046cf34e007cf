"""The package's layers: everything below the window stays Qt-free, so the command line runs
without a display, and no module imports another that imports it back, even from a function."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import audit_viewer

PACKAGE = Path(audit_viewer.__file__).parent


def test_only_the_ui_package_imports_qt() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if PACKAGE / "ui" in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in ("PySide6", "shiboken6") for name in names):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_the_command_line_and_core_load_without_qt() -> None:
    code = (
        "import sys\n"
        "import audit_viewer.cli, audit_viewer.sync, audit_viewer.export, audit_viewer.query\n"
        "import audit_viewer.sandbox, audit_viewer.cache, audit_viewer.frame\n"
        "assert audit_viewer.cli.main(['--version']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('PySide6')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip().splitlines()[-1] == "[]"


def _module_name(path: Path) -> str:
    parts = [PACKAGE.name, *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _runtime_imports(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports when it runs: at module level or inside a
    function alike; only ``if TYPE_CHECKING:`` blocks are left out, since they never run."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    static = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
    }

    def owner(dotted: str) -> str | None:  # the module (or package) a dotted name lives in
        while dotted and dotted not in MODULES:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    found: set[str | None] = set()
    for node in ast.walk(tree):
        if id(node) in static:
            continue
        if isinstance(node, ast.Import):
            found |= {owner(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package upwards
                package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}".rstrip(".")
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else owner(base))
    return {module for module in found if module is not None and module != name}


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = {name: _runtime_imports(name, path) for name, path in MODULES.items()}
    assert graph["audit_viewer.config"] >= {"audit_viewer.urls"}  # the walk sees imports
    assert "audit_viewer.cache.columnar" in graph["audit_viewer.cache.store"]  # in a function
    assert graph["audit_viewer.urls"] == set()  # the URL rule depends on nothing of ours
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        raise AssertionError(f"import cycle: {cycle}") from None


def test_the_main_window_only_builds_and_wires() -> None:
    """Workflows own their threads in their controllers; the window stays a short shell."""
    source = (PACKAGE / "ui" / "main_window.py").read_text(encoding="utf-8")
    imports = _runtime_imports("audit_viewer.ui.main_window", PACKAGE / "ui" / "main_window.py")
    assert "audit_viewer.ui.workers" not in imports
    assert {"audit_viewer.api", "audit_viewer.export", "audit_viewer.query"}.isdisjoint(imports)
    assert len(source.splitlines()) < 450
