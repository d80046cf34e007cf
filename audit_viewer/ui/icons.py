"""Toolbar and menu icons, recoloured from the palette so they read on light and dark themes.

The SVGs in ``resources/icons`` are single-colour line drawings that stroke with
``currentColor``. QIcon cannot recolour an SVG, so each icon is rendered here with
``currentColor`` replaced by the palette's text colour (and its disabled / selected colours for
those modes). Files are read through :mod:`importlib.resources`, so a frozen PyInstaller build
finds them without any path juggling.
"""

from __future__ import annotations

from importlib.resources import files

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

#: Every icon the app ships, by its file name in ``resources/icons`` (without ``.svg``).
ICON_NAMES: tuple[str, ...] = (
    "sync",
    "cancel",
    "export",
    "search",
    "filter",
    "clear-filter",
    "settings",
    "columns",
    "copy",
    "refresh",
    "detail",
    "timeline",
    "clock",
    "open-cache",
    "quit",
    "help",
)

#: Other names callers may reach for; each maps to one of :data:`ICON_NAMES`.
ALIASES: dict[str, str] = {
    "stop": "cancel",
    "save": "export",
    "profile": "settings",
    "info": "detail",
    "utc": "clock",
    "folder": "open-cache",
}

# Pixel sizes rendered into each icon: menus (16), toolbars (20-24), and their 2x HiDPI doubles.
_SIZES = (16, 20, 24, 32, 40, 48, 64)
_APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

_icon_cache: dict[tuple[str, int, int, int], QIcon] = {}
_app_icon: QIcon | None = None


def _resources():
    return files("audit_viewer.resources")


def _render(svg: bytes, size: int) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return QPixmap.fromImage(image)


def _tinted(svg: bytes, color: QColor) -> bytes:
    return svg.replace(b"currentColor", color.name(QColor.NameFormat.HexRgb).encode("ascii"))


def icon(name: str, palette: QPalette | None = None) -> QIcon:
    """The named icon drawn in ``palette``'s text colours (default: the application palette).

    Cached per name and colours; after a palette change, ask again to get matching icons.
    Raises ``KeyError`` for a name that is neither in :data:`ICON_NAMES` nor :data:`ALIASES`.
    """
    canonical = ALIASES.get(name, name)
    if canonical not in ICON_NAMES:
        raise KeyError(f"unknown icon {name!r}; known: {', '.join(ICON_NAMES)}")
    pal = palette if palette is not None else QGuiApplication.palette()
    group, role = QPalette.ColorGroup, QPalette.ColorRole
    modes = (
        (QIcon.Mode.Normal, pal.color(group.Active, role.WindowText)),
        (QIcon.Mode.Active, pal.color(group.Active, role.WindowText)),
        (QIcon.Mode.Disabled, pal.color(group.Disabled, role.WindowText)),
        (QIcon.Mode.Selected, pal.color(group.Active, role.HighlightedText)),
    )
    key = (canonical, modes[0][1].rgba(), modes[2][1].rgba(), modes[3][1].rgba())
    cached = _icon_cache.get(key)
    if cached is not None:
        return cached
    svg = (_resources() / "icons" / f"{canonical}.svg").read_bytes()
    result = QIcon()
    for mode, color in modes:
        tinted = _tinted(svg, color)
        for size in _SIZES:
            result.addPixmap(_render(tinted, size), mode, QIcon.State.Off)
    _icon_cache[key] = result
    return result


def app_icon() -> QIcon:
    """The application's logo (a shield over a list), for the window and the taskbar."""
    global _app_icon
    if _app_icon is None:
        svg = (_resources() / "app-icon.svg").read_bytes()
        result = QIcon()
        for size in _APP_ICON_SIZES:
            result.addPixmap(_render(svg, size))
        _app_icon = result
    return _app_icon
