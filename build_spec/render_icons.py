"""Render resources/app-icon.svg into the hicolor PNG sizes a Linux desktop looks up.

Desktops pick the launcher, taskbar and switcher icons from
``share/icons/hicolor/<size>x<size>/apps/audit-viewer.png`` (plus ``scalable/`` for the SVG);
the PNGs are committed so a build needs no renderer, and this script regenerates them after the
logo changes. It uses Qt's own QSvgRenderer, the same renderer the running app draws its icon
with, so the desktop and the window show the same picture. Run from the repository root:

    QT_QPA_PLATFORM=offscreen .venv/bin/python build_spec/render_icons.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "resources" / "app-icon.svg"
HICOLOR = ROOT / "resources" / "icons" / "hicolor"
ICON_NAME = "audit-viewer"
#: The freedesktop icon theme's usual fixed sizes, from menus (16) to HiDPI launchers (512).
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def render(svg: bytes, size: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(svg))
    if not renderer.isValid():
        raise SystemExit(f"{SOURCE} is not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])  # QImage/QPainter on text need a GUI application
    svg = SOURCE.read_bytes()
    for size in SIZES:
        target = HICOLOR / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not render(svg, size).save(str(target), "PNG"):
            raise SystemExit(f"could not write {target}")
        print(target.relative_to(ROOT))
    scalable = HICOLOR / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SOURCE, scalable)
    print(scalable.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
