"""Everything below the window stays Qt-free, so the command line runs without a display."""

from __future__ import annotations

import ast
import subprocess
import sys
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
