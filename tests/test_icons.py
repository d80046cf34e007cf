"""Icons and palette colours: every icon ships, loads through importlib.resources, and is drawn
in the palette's text colour so it reads on light and dark themes."""

from __future__ import annotations

import re
from importlib.resources import as_file, files

import pytest
from PySide6.QtCore import QByteArray, QSize
from PySide6.QtGui import QColor, QIcon, QImage, QImageReader, QPalette
from PySide6.QtSvg import QSvgRenderer

from audit_viewer.ui import icons, theme

pytestmark = pytest.mark.gui

RESOURCES = files("audit_viewer.resources")


def palette(window: str, text: str, disabled: str) -> QPalette:
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor(window))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(text))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(disabled))
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#2f7bd8"))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    return pal


LIGHT = palette("#efefef", "#101010", "#a0a0a0")
DARK = palette("#2b2b2b", "#f0f0f0", "#707070")


def opaque_colors(image: QImage) -> set[str]:
    """The colours of the fully opaque pixels (the strokes' cores, not antialiased edges)."""
    found = set()
    for y in range(image.height()):
        for x in range(image.width()):
            color = image.pixelColor(x, y)
            if color.alpha() == 255:
                found.add(color.name())
    return found


def test_the_icon_folder_holds_exactly_the_named_icons() -> None:
    shipped = {p.name[:-4] for p in (RESOURCES / "icons").iterdir() if p.name.endswith(".svg")}
    assert shipped == set(icons.ICON_NAMES)
    assert set(icons.ALIASES.values()) <= set(icons.ICON_NAMES)


@pytest.mark.parametrize("name", icons.ICON_NAMES)
def test_each_svg_is_a_valid_24px_single_colour_drawing(qtbot, name: str) -> None:
    svg = (RESOURCES / "icons" / f"{name}.svg").read_bytes()
    assert b'viewBox="0 0 24 24"' in svg
    assert b"currentColor" in svg
    assert not re.search(rb"#[0-9a-fA-F]{3,6}\b", svg), "colours come from the palette"
    assert QSvgRenderer(QByteArray(svg)).isValid()


@pytest.mark.parametrize("name", icons.ICON_NAMES)
def test_every_icon_loads_and_is_drawn_in_the_text_colour(qtbot, name: str) -> None:
    for pal in (LIGHT, DARK):
        result = icons.icon(name, pal)
        assert isinstance(result, QIcon) and not result.isNull()
        image = result.pixmap(QSize(48, 48)).toImage()
        assert opaque_colors(image) == {pal.color(QPalette.ColorRole.WindowText).name()}
        disabled = result.pixmap(QSize(48, 48), QIcon.Mode.Disabled).toImage()
        wanted = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()
        assert opaque_colors(disabled) == {wanted}


def test_icons_are_cached_and_aliases_resolve(qtbot) -> None:
    assert icons.icon("sync", LIGHT) is icons.icon("sync", LIGHT)
    assert icons.icon("sync", DARK) is not icons.icon("sync", LIGHT)
    assert icons.icon("save", LIGHT) is icons.icon("export", LIGHT)
    assert not icons.icon("sync").isNull()  # the application palette by default


def test_an_unknown_icon_name_is_an_error(qtbot) -> None:
    with pytest.raises(KeyError, match="unknown icon 'nope'"):
        icons.icon("nope")


def test_app_icon_has_every_size_from_menu_to_launcher(qtbot) -> None:
    logo = icons.app_icon()
    assert not logo.isNull()
    sizes = {size.width() for size in logo.availableSizes()}
    assert {16, 32, 48, 256} <= sizes
    image = logo.pixmap(QSize(64, 64)).toImage()
    assert len(opaque_colors(image)) > 3  # a full-colour logo, not a tinted line icon


def test_bundle_icons_for_the_installer_exist(qtbot) -> None:
    png = QImage()
    assert png.loadFromData((RESOURCES / "app-icon.png").read_bytes())
    assert (png.width(), png.height()) == (256, 256)
    with as_file(RESOURCES / "app-icon.ico") as path:
        reader = QImageReader(str(path))
        sizes = []
        for index in range(reader.imageCount()):
            reader.jumpToImage(index)
            sizes.append(reader.read().width())
    assert {16, 32, 48, 256} <= set(sizes)


def test_theme_tells_dark_from_light_and_keeps_colours_apart(qtbot) -> None:
    assert not theme.is_dark(LIGHT)
    assert theme.is_dark(DARK)
    for pal in (LIGHT, DARK):
        background = pal.color(QPalette.ColorRole.Window)
        for color in (
            theme.bar_color(pal),
            theme.muted_text_color(pal),
            theme.error_color(pal),
        ):
            assert abs(color.lightness() - background.lightness()) > 40
        text = pal.color(QPalette.ColorRole.WindowText)
        assert abs(theme.match_highlight_color(pal).lightness() - text.lightness()) > 100
        assert (
            0
            < theme.range_fill_color(pal).alpha()
            < theme.range_fill_color(pal, strong=True).alpha()
        )
    assert theme.error_color(LIGHT) != theme.error_color(DARK)
    mid = theme.mix(QColor("#000000"), QColor("#ffffff"), 0.5)
    assert 126 <= mid.red() <= 129
