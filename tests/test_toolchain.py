"""Regression guard for the PySide6 6.12.0 + CPython 3.11 refcount bug.

That combination loses a reference to ``None``/``True`` on every model reset and signal emit
and aborts with ``Fatal Python error: bool_dealloc`` after about 1,000 of them. The window resets
its model on every keystroke, so the project pins ``requires-python >= 3.12``. The stress runs in
a subprocess: an abort then fails this test instead of killing pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import metadata
from pathlib import Path

import PySide6
from packaging.specifiers import SpecifierSet

ROUNDS = 10_000

STRESS = textwrap.dedent(
    """
    import sys

    from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt, Signal
    from PySide6.QtWidgets import QApplication, QTableView

    ROUNDS = int(sys.argv[1])


    class Model(QAbstractTableModel):
        def rowCount(self, parent=QModelIndex()):
            return 0 if parent.isValid() else 4

        def columnCount(self, parent=QModelIndex()):
            return 0 if parent.isValid() else 3

        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            if role == Qt.ItemDataRole.DisplayRole:
                return None if index.column() == 0 else True
            return None

        def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
            return None


    class Emitter(QObject):
        value = Signal(object)
        flag = Signal(bool)


    app = QApplication([])
    model = Model()
    view = QTableView()
    view.setModel(model)
    view.resize(400, 200)
    view.show()
    emitter = Emitter()
    seen = []
    emitter.value.connect(seen.append)
    emitter.flag.connect(seen.append)
    resets = []
    model.modelReset.connect(lambda: resets.append(None))
    layouts = []
    model.layoutChanged.connect(lambda *args: layouts.append(True))

    for i in range(ROUNDS):
        model.beginResetModel()
        model.endResetModel()
        model.index(i % 4, i % 3).data()  # through C++ back into Python: returns None/True
        emitter.value.emit(None)
        emitter.value.emit(True)
        emitter.flag.emit(False)
        model.layoutAboutToBeChanged.emit()
        model.layoutChanged.emit()
        seen.clear()
        if i % 500 == 0:
            app.processEvents()  # let the view pull data() after resets too
    app.processEvents()
    assert len(resets) == ROUNDS and len(layouts) == ROUNDS, (len(resets), len(layouts))
    view.close()
    print("ok", ROUNDS)
    """
)


def test_requires_python_excludes_the_crashing_interpreter():
    """The package metadata must refuse CPython 3.11, where PySide6 6.12.0 aborts."""
    spec = SpecifierSet(metadata("audit-viewer")["Requires-Python"])
    assert "3.11.7" not in spec
    assert f"{sys.version_info.major}.{sys.version_info.minor}.0" in spec


def test_running_combination_is_not_the_bad_one():
    bad = sys.version_info[:2] == (3, 11) and PySide6.__version__.startswith("6.12.")
    assert not bad, f"CPython {sys.version.split()[0]} with PySide6 {PySide6.__version__}"


def test_ten_thousand_model_resets_and_emits_survive():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", STRESS, str(ROUNDS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stderr[-2000:]}"
    assert proc.stdout.strip() == f"ok {ROUNDS}"


def test_the_qt_free_core_type_checks_strictly() -> None:
    """mypy --strict over everything below the window (settings in pyproject.toml)."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found")
