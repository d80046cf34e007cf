"""Colours derived from the active palette, so every custom-painted thing reads in light and dark.

Widgets that paint themselves (the timeline, highlighted search matches, the error border, the
recoloured icons) must not hard-code colours: a fixed dark grey vanishes on a dark palette and a
pale yellow glares on it. Each helper takes a palette (default: the application's) and returns a
colour tuned for whether that palette is dark.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QGuiApplication, QPalette


def _palette(palette: QPalette | None) -> QPalette:
    return palette if palette is not None else QGuiApplication.palette()


def is_dark(palette: QPalette | None = None) -> bool:
    """True when the window background is darker than its text (a dark theme)."""
    pal = _palette(palette)
    return (
        pal.color(QPalette.ColorRole.Window).lightness()
        < pal.color(QPalette.ColorRole.WindowText).lightness()
    )


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """The colour ``t`` of the way from ``a`` to ``b`` (0 -> a, 1 -> b), alpha included."""
    t = min(max(t, 0.0), 1.0)
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
        a.alphaF() + (b.alphaF() - a.alphaF()) * t,
    )


def muted_text_color(palette: QPalette | None = None) -> QColor:
    """Secondary text (axis labels, field names): readable, but quieter than the content."""
    pal = _palette(palette)
    return mix(pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window), 0.4)


def grid_color(palette: QPalette | None = None) -> QColor:
    """Hairlines (chart baseline, max line): visible without competing with the data."""
    pal = _palette(palette)
    return mix(pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window), 0.78)


def bar_color(palette: QPalette | None = None) -> QColor:
    """Chart bars: the palette's accent, softened a little toward the background."""
    pal = _palette(palette)
    return mix(
        pal.color(QPalette.ColorRole.Highlight),
        pal.color(QPalette.ColorRole.Window),
        0.25 if is_dark(pal) else 0.15,
    )


def bar_hover_color(palette: QPalette | None = None) -> QColor:
    """The bar under the mouse: the full accent, pushed toward the text colour for contrast."""
    pal = _palette(palette)
    return mix(
        pal.color(QPalette.ColorRole.Highlight), pal.color(QPalette.ColorRole.WindowText), 0.25
    )


def range_fill_color(palette: QPalette | None = None, *, strong: bool = False) -> QColor:
    """Translucent shading for a time range (``strong`` while the user is dragging one)."""
    color = QColor(_palette(palette).color(QPalette.ColorRole.Highlight))
    alpha = 0.32 if strong else 0.2
    color.setAlphaF(alpha * (1.5 if is_dark(palette) else 1.0))
    return color


def range_edge_color(palette: QPalette | None = None) -> QColor:
    """The border lines of a shaded range."""
    return QColor(_palette(palette).color(QPalette.ColorRole.Highlight))


def match_highlight_color(palette: QPalette | None = None) -> QColor:
    """Background behind search matches in cells: amber, dimmed on dark so text stays legible."""
    return QColor("#7a6200") if is_dark(palette) else QColor("#ffe27a")


def error_color(palette: QPalette | None = None) -> QColor:
    """Error text and borders: a red with enough contrast against the palette's background."""
    return QColor("#ff7b72") if is_dark(palette) else QColor("#c62828")


def error_background_color(palette: QPalette | None = None) -> QColor:
    """Background of an error banner: a faint red that keeps the palette's text readable."""
    return QColor("#4a1d1f") if is_dark(palette) else QColor("#fdecea")
