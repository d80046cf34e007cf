"""Take docs/screenshot.png: the real window on the demo data, one event open in the detail pane.

Run from the repository root: ``.venv/bin/python docs/screenshot.py`` (about half a minute).
It is ``audit-viewer --demo`` made repeatable: the sandbox platform with a fixed seed, a
temporary cache and a temporary AUDIT_VIEWER_HOME (so neither your window layout nor your
profiles show, and nothing of yours is written), and the sync waited for before the picture
is taken. Qt's offscreen platform draws it, so it runs without a display.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

OUT = Path(__file__).resolve().with_name("screenshot.png")
SIZE = (1400, 850)
EVENTS = 50_000
QUERY = "alice"  # the search bar's highlighting, over a mix of actions
SHOWN_ACTION = "Findings ignored"  # the first such row opens in the detail pane


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="audit-viewer-screenshot-") as home:
        os.environ["AUDIT_VIEWER_HOME"] = home
        for name in ("AUDIT_VIEWER_CACHE", "AUDIT_VIEWER_PROFILE", "AUDIT_VIEWER_CLIENT_SECRET"):
            os.environ.pop(name, None)
        return _shoot()


def _shoot() -> int:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from audit_viewer.app import create_window
    from audit_viewer.ui.table_model import COL_ACTION

    window = create_window(["--demo", "--demo-events", str(EVENTS), "--utc"])
    window.resize(*SIZE)
    window.show()
    loop = QEventLoop()
    outcome: list[object] = []
    window.syncFinished.connect(lambda result: (outcome.append(result), loop.quit()))
    window.syncFailed.connect(lambda message: (outcome.append(message), loop.quit()))
    QTimer.singleShot(300_000, loop.quit)
    loop.exec()
    if not outcome or isinstance(outcome[0], str):
        print(f"the demo sync did not finish: {outcome}", file=sys.stderr)
        window.close()
        return 1

    window.search_bar.setText(QUERY)
    window.search_bar.returnPressed.emit()
    QApplication.processEvents()
    model = window.model
    row = next(
        (
            r
            for r in range(model.rowCount())
            if str(model.index(r, COL_ACTION).data()).startswith(SHOWN_ACTION)
        ),
        0,
    )
    window.table.setCurrentIndex(model.index(row, COL_ACTION))
    window.table.selectRow(row)
    window.table.setFocus()
    window.statusBar().clearMessage()  # the transient "Sync done" note; the status line stays
    for _ in range(5):
        QApplication.processEvents()
    saved = window.grab().save(str(OUT))
    window.close()
    print(f"wrote {OUT}" if saved else f"could not write {OUT}")
    return 0 if saved else 1


if __name__ == "__main__":
    raise SystemExit(main())
