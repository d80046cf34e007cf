"""Excel workbooks (``.xlsx``) of the rows shown, for admins who live in Excel.

Written with XlsxWriter in constant-memory mode, so each row goes to disk as it is written and a
million rows need no more memory than a thousand. Excel holds at most 1,048,576 rows a sheet:
longer exports continue on "Events 2", "Events 3", ..., each with the header row. Every cell is
written as text (``write_string``), so nothing a platform sends can become a formula; with the
formula guard on, text that Excel would read as a formula once edited (``= + - @``, tab, CR)
also gets Excel's own quote prefix, shown nowhere but kept as text. The file is replaced the
way the CSV's is (:func:`audit_viewer.export.replacing`): complete, or not at all.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import xlsxwriter

from audit_viewer.export import (
    CSV_COLUMNS,
    ExportCancelled,
    ExportError,
    iso_utc,
    replacing,
    target_kind,
)

#: Excel's rows per sheet, the header included.
EXCEL_MAX_ROWS = 1_048_576
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_WIDTHS = {"id": 28, "created_at": 25, "description": 80, "action": 32, "user": 30}


def write_xlsx(
    frames: Iterable[pd.DataFrame],
    target: str | os.PathLike[str],
    *,
    formula_guard: bool = True,
    progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    max_rows: int = EXCEL_MAX_ROWS,
) -> int:
    """Write the rows of ``frames`` (frame-contract columns) to a workbook at ``target``."""
    path = Path(os.fspath(target))
    if str(target) == "-":
        raise ExportError(f"Could not write {target}: a workbook needs a file")
    real, mode = target_kind(path)
    if mode is not None and not stat.S_ISREG(mode):
        raise ExportError(f"Could not write {target}: a workbook needs a file")
    with replacing(path, real, mode) as out:
        return _write(frames, out, formula_guard, progress, cancel, max_rows)


def _write(
    frames: Iterable[pd.DataFrame],
    out: BinaryIO,
    formula_guard: bool,
    progress: Callable[[int], None] | None,
    cancel: threading.Event | None,
    max_rows: int,
) -> int:
    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    book = xlsxwriter.Workbook(out, options)
    try:
        bold = book.add_format({"bold": True})
        quoted = book.add_format({"quote_prefix": True})
        sheet, row, sheets, written = None, 0, 0, 0
        for frame in frames:
            if cancel is not None and cancel.is_set():
                raise ExportCancelled("Export cancelled")
            missing = [name for name in CSV_COLUMNS if name not in frame.columns]
            if missing:
                raise ValueError(f"frame lacks the column(s) {', '.join(missing)}")
            columns = [
                iso_utc(frame[name]).to_pylist()
                if name == "created_at"
                else frame[name].astype(object).where(frame[name].notna(), "").tolist()
                for name in CSV_COLUMNS
            ]
            for values in zip(*columns, strict=True):
                if sheet is None or row == max_rows:
                    sheets += 1
                    sheet = book.add_worksheet("Events" if sheets == 1 else f"Events {sheets}")
                    for column, name in enumerate(CSV_COLUMNS):
                        sheet.set_column(column, column, _WIDTHS.get(name, 18))
                        sheet.write_string(0, column, name, bold)
                    sheet.freeze_panes(1, 0)
                    row = 1
                for column, value in enumerate(values):
                    text = str(value)
                    if formula_guard and text.startswith(_FORMULA_START):
                        sheet.write_string(row, column, text, quoted)
                    else:
                        sheet.write_string(row, column, text)
                row += 1
                written += 1
            if progress is not None:
                progress(written)
        if sheet is None:  # no rows: still a workbook with the header
            sheet = book.add_worksheet("Events")
            for column, name in enumerate(CSV_COLUMNS):
                sheet.write_string(0, column, name, bold)
    finally:
        book.close()
    return written
