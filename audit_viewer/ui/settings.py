"""The window's remembered state (geometry, columns, UTC, BOM, ...) in an INI file.

QSettings in INI format under :func:`audit_viewer.config.config_dir` rather than the platform's
native store (registry, plist): one switch, ``AUDIT_VIEWER_HOME``, then isolates tests and
portable installs, and the file is readable by an admin.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from audit_viewer.config import config_dir

FILE_NAME = "window.ini"


@dataclass
class ColumnState:
    """One column, keyed by its title so extra-field columns can come and go between runs."""

    visual: int
    width: int
    hidden: bool


@dataclass
class TableState:
    columns: dict[str, ColumnState] = field(default_factory=dict)
    sort_column: str | None = None
    sort_ascending: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TableState:
        """Parse what :meth:`to_json` wrote; anything unreadable means "no saved state"."""
        try:
            data = json.loads(text)
            columns = {
                str(name): ColumnState(int(c["visual"]), int(c["width"]), bool(c["hidden"]))
                for name, c in data.get("columns", {}).items()
            }
            sort_column = data.get("sort_column")
            return cls(
                columns=columns,
                sort_column=str(sort_column) if sort_column is not None else None,
                sort_ascending=bool(data.get("sort_ascending", False)),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()


class WindowSettings:
    """Typed access to the INI file; every getter has a default for a first start."""

    def __init__(self) -> None:
        directory = config_dir()
        directory.mkdir(parents=True, exist_ok=True)
        self._qs = QSettings(str(directory / FILE_NAME), QSettings.Format.IniFormat)

    @property
    def path(self) -> str:
        return self._qs.fileName()

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._qs.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def _bool(self, key: str, default: bool) -> bool:
        value: Any = self._qs.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    # window
    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    def splitter_state(self) -> QByteArray | None:
        return self._bytes("window/splitter")

    def save_window(self, geometry: QByteArray, state: QByteArray, splitter: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)
        self._qs.setValue("window/splitter", splitter)

    # view
    def utc(self, default: bool = False) -> bool:
        return self._bool("view/utc", default)

    def set_utc(self, value: bool) -> None:
        self._qs.setValue("view/utc", value)

    def timeline_visible(self) -> bool:
        return self._bool("view/timeline", True)

    def detail_visible(self) -> bool:
        return self._bool("view/detail", True)

    def set_panes(self, *, timeline: bool, detail: bool) -> None:
        self._qs.setValue("view/timeline", timeline)
        self._qs.setValue("view/detail", detail)

    def table_state(self) -> TableState | None:
        text = self._qs.value("view/table")
        return TableState.from_json(text) if isinstance(text, str) and text else None

    def set_table_state(self, state: TableState) -> None:
        self._qs.setValue("view/table", state.to_json())

    # export
    def bom(self) -> bool:
        return self._bool("export/bom", False)

    def set_bom(self, value: bool) -> None:
        self._qs.setValue("export/bom", value)

    def export_dir(self) -> str:
        value = self._qs.value("export/dir", "")
        return value if isinstance(value, str) else ""

    def set_export_dir(self, value: str) -> None:
        self._qs.setValue("export/dir", value)

    def sync(self) -> None:
        """Write to disk now (QSettings otherwise writes lazily, e.g. at exit)."""
        self._qs.sync()
