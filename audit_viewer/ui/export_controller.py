"""Save as CSV or JSON Lines: exactly the rows shown, in the order shown, in a worker when they
are many. CSV has the columns a spreadsheet wants (formula guard on); JSON Lines each event's
whole JSON, as the cache keeps it, for evidence and other tools."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

import pandas as pd
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from audit_viewer.export import ExportError
from audit_viewer.ui.settings import WindowSettings
from audit_viewer.ui.workers import ExportOutcome, ExportWorker, OneJob, WorkerThread, export_frames

#: Exports above this many rows run in a thread with a progress bar and Cancel.
BACKGROUND_EXPORT_ROWS = 50_000
EXPORT_CHUNK = 20_000
CSV_FILTER = "CSV files (*.csv)"
JSONL_FILTER = "JSON Lines, whole events (*.jsonl)"
XLSX_FILTER = "Excel workbook (*.xlsx)"
#: The Save as dialog's file types and the format of each.
FILTERS = {CSV_FILTER: "csv", JSONL_FILTER: "jsonl", XLSX_FILTER: "xlsx"}
_FORMATS_BY_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xlsx": "xlsx"}


class ExportController(OneJob):
    """Asks where, writes the rows it is handed, and reports; the window renders the reports."""

    #: A background export started: (what the status line says, rows to write).
    started = Signal(str, int)
    #: Rows written so far, of the total.
    progress = Signal(int, int)
    #: The export ended: an ExportOutcome, or None when it failed.
    finished = Signal(object)
    #: Not started: why, for the banner.
    refused = Signal(str)
    #: A passing message for the status bar (done, cancelled, failed).
    message = Signal(str, int)

    def __init__(
        self,
        parent: QWidget,
        settings: WindowSettings,
        *,
        rows: Callable[[], int],
        chunks: Callable[[int], Iterable[pd.DataFrame]],
        valid: Callable[[], bool],
        bom: Callable[[], bool],
        json_of: Callable[[pd.DataFrame], list[str]],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._settings = settings
        self._rows, self._chunks, self._valid, self._bom = rows, chunks, valid, bom
        self._json_of = json_of
        self._target: Path | None = None
        self._total = 0

    @staticmethod
    def default_name() -> str:
        return f"audit-log-{datetime.now():%Y%m%d-%H%M}.csv"

    def export_csv(self) -> None:
        """Ask for a file and its format (CSV or JSON Lines), then save the rows shown.

        Not while a filter does not parse: the table then shows an older result than the
        filters read, and a file of those rows would be mistaken for what was asked.
        """
        if self._job is not None:
            return
        if not self._valid():
            self.refused.emit(
                "Not saved: fix the filter marked in red first (the table still shows the "
                "result of the last valid filters)."
            )
            return
        folder = self._settings.export_dir() or str(Path.home())
        path_text, chosen = QFileDialog.getSaveFileName(
            self._parent,
            "Save as",
            str(Path(folder) / self.default_name()),
            ";;".join([*FILTERS, "All files (*)"]),
        )
        if not path_text:
            return
        path = Path(path_text)
        # A suffix the admin typed wins; else the chosen file type's, added to the name.
        fmt = _FORMATS_BY_SUFFIX.get(path.suffix.lower()) or FILTERS.get(chosen, "csv")
        if not path.suffix:
            path = path.with_suffix(f".{fmt}")
        self._settings.set_export_dir(str(path.parent))
        self._save(path, fmt)

    def save_csv(self, path: Path) -> None:
        """Write the rows shown to ``path``; ``finished`` ends it (also what --self-check runs)."""
        self._save(path, "csv")

    def _save(self, path: Path, fmt: str) -> None:
        """Write the rows shown as ``fmt`` (csv, jsonl or xlsx), in a worker when many."""
        if self._job is not None:
            return
        rows = self._rows()
        # The shown rows in shown order, snapshotted now so later filtering cannot race.
        chunks = self._chunks(EXPORT_CHUNK)
        kind = {"json_of": self._json_of if fmt == "jsonl" else None, "workbook": fmt == "xlsx"}
        if rows <= BACKGROUND_EXPORT_ROWS:
            try:
                outcome = export_frames(chunks, path, bom=self._bom(), **kind)
            except ExportError as exc:
                self._fail(str(exc), path)
                return
            self._done(outcome)
            return
        worker = ExportWorker(chunks, path, bom=self._bom(), **kind)
        # Bound methods of this QObject: they run in the GUI thread, not the worker's.
        worker.progress.connect(self._progress)
        worker.finished.connect(self._done)
        worker.failed.connect(self._worker_failed)
        self._target, self._total = path, rows
        self._job = WorkerThread(worker)
        self.started.emit(f"Saving {rows:,} events to {path.name}…", rows)
        self._job.start()

    def _progress(self, rows: int) -> None:
        self.progress.emit(rows, self._total)

    def _done(self, outcome: ExportOutcome) -> None:
        self._end()
        if outcome.cancelled:
            self.message.emit("Save cancelled; nothing was written.", 15_000)
        else:
            self.message.emit(f"Saved {outcome.rows:,} events to {outcome.path}", 30_000)
        self.finished.emit(outcome)

    def _worker_failed(self, message: str) -> None:
        self._fail(message, self._target)

    def _fail(self, message: str, path: Path | None) -> None:
        self._end()
        QMessageBox.critical(
            self._parent,
            "Save failed",
            f"Could not save {path}.\n\n{message}\n\nNothing was written under that name.",
        )
        self.message.emit(f"Save failed: {message}", 15_000)
        self.finished.emit(None)
