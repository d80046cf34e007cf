"""Excel workbooks: every cell text, formulas never, sheets split at the row limit."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest
from test_export import HOSTILE, expected_rows, leftovers, make_frame

from audit_viewer import workbook
from audit_viewer.export import CSV_COLUMNS, ExportError

_NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")  # OOXML's escape for CR and other controls


def _text(element) -> str:
    joined = "".join(t.text or "" for t in element.iter(f"{{{_NS['m']}}}t"))
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), joined)


def sheets(path: Path) -> dict[str, list[list[str]]]:
    """Each sheet's rows of cell texts, read from the workbook's XML as Excel would."""
    with zipfile.ZipFile(path) as book:
        names = ElementTree.fromstring(book.read("xl/workbook.xml"))
        titles = [s.get("name") for s in names.find("m:sheets", _NS)]
        shared_xml = "xl/sharedStrings.xml"
        shared = []
        if shared_xml in book.namelist():
            root = ElementTree.fromstring(book.read(shared_xml))
            shared = [_text(si) for si in root]
        out = {}
        for number, title in enumerate(titles, start=1):
            root = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{number}.xml"))
            rows = []
            for row in root.iter(f"{{{_NS['m']}}}row"):
                cells = []
                for cell in row.findall("m:c", _NS):
                    assert cell.get("t") in ("s", "inlineStr", "str"), "every cell is text"
                    assert cell.find("m:f", _NS) is None, "no formula, ever"
                    if cell.get("t") == "s":
                        cells.append(shared[int(cell.find("m:v", _NS).text)])
                    else:
                        cells.append(_text(cell))
                rows.append(cells)
            out[title] = rows
        return out


def test_a_workbook_holds_every_row_as_text(tmp_path: Path) -> None:
    frame = make_frame(len(HOSTILE) * 2)
    target = tmp_path / "audit.xlsx"
    assert workbook.write_xlsx([frame], target, formula_guard=False) == len(frame)
    (rows,) = sheets(target).values()
    assert rows[0] == list(CSV_COLUMNS)
    expected = expected_rows(frame, guard=False)
    # Excel keeps a cell's text; empty cells are simply absent from a row's end.
    assert [r + [""] * (len(CSV_COLUMNS) - len(r)) for r in rows[1:]] == expected
    assert leftovers(tmp_path) == []


def test_the_formula_guard_marks_formula_like_text_with_excels_quote_prefix(
    tmp_path: Path,
) -> None:
    frame = make_frame(len(HOSTILE))
    target = tmp_path / "audit.xlsx"
    workbook.write_xlsx([frame], target)
    with zipfile.ZipFile(target) as book:
        styles = book.read("xl/styles.xml").decode()
    assert 'quotePrefix="1"' in styles


def test_sheets_split_at_the_row_limit_each_with_the_header(tmp_path: Path) -> None:
    frame = make_frame(7)
    target = tmp_path / "audit.xlsx"
    assert workbook.write_xlsx([frame.iloc[:4], frame.iloc[4:]], target, max_rows=3) == 7
    found = sheets(target)
    assert list(found) == ["Events", "Events 2", "Events 3", "Events 4"]
    assert [len(rows) - 1 for rows in found.values()] == [2, 2, 2, 1]
    assert all(rows[0] == list(CSV_COLUMNS) for rows in found.values())
    ids = [row[0] for rows in found.values() for row in rows[1:]]
    assert ids == frame["id"].tolist()


def test_a_workbook_needs_a_file_and_a_failure_keeps_the_old_one(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="a workbook needs a file"):
        workbook.write_xlsx([make_frame(2)], "-")
    (tmp_path / "folder.xlsx").mkdir()
    with pytest.raises(ExportError, match="a workbook needs a file"):
        workbook.write_xlsx([make_frame(2)], tmp_path / "folder.xlsx")
    target = tmp_path / "keep.xlsx"
    target.write_text("previous export")

    def broken():
        yield make_frame(3)
        raise RuntimeError("cache went away")

    with pytest.raises(RuntimeError, match="cache went away"):
        workbook.write_xlsx(broken(), target)
    assert target.read_text() == "previous export"
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []
