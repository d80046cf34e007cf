"""The desktop bundle: build_spec/build.sh makes a frozen program that knows its version and
passes its own self-check, and the desktop file and icons it ships are complete."""

from __future__ import annotations

import configparser
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit_viewer import __version__

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
ICON_SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_file_starts_the_program_with_its_icon() -> None:
    entry = desktop_entry(RESOURCES / "audit-viewer.desktop")
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "audit-viewer"  # the window takes no file arguments
    assert entry["Icon"] == "audit-viewer"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")


@pytest.mark.gui
def test_icon_ships_in_every_size_a_desktop_looks_up(qapp) -> None:
    from PySide6.QtGui import QImage

    hicolor = RESOURCES / "icons" / "hicolor"
    for size in ICON_SIZES:
        image = QImage(str(hicolor / f"{size}x{size}" / "apps" / "audit-viewer.png"))
        assert (image.width(), image.height()) == (size, size)
        assert image.hasAlphaChannel()
    assert (hicolor / "scalable" / "apps" / "audit-viewer.svg").read_bytes() == (
        RESOURCES / "app-icon.svg"
    ).read_bytes()


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("PyInstaller") is None,
    reason="PyInstaller is not installed (pip install -e '.[build]')",
)
@pytest.mark.timeout(900)
def test_built_bundle_runs_its_self_check(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    env = {**os.environ, "PYTHON": sys.executable}
    built = subprocess.run(
        [str(ROOT / "build_spec" / "build.sh"), str(dist)],
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-6000:]
    print(next(line for line in built.stdout.splitlines() if line.startswith("size: ")))

    program = dist / "audit-viewer" / "audit-viewer"
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    version = subprocess.run(
        [str(program), "--version"], env=bare, capture_output=True, text=True, timeout=60
    )
    assert (version.returncode, version.stdout.strip()) == (0, f"audit-viewer {__version__}")
    # build.sh ran the frozen --self-check the same bare way; its report ends the output.
    report = built.stdout.splitlines()
    assert report[-1] == "PASS"
    assert f"audit-viewer {__version__} self-check" in report
    assert not [line for line in report if line.lstrip().startswith("FAIL")]
    steps = {line.split()[1]: line for line in report if line.lstrip().startswith("PASS ")}
    assert "SecretService" in steps["keyring:"]  # keyring's backends ship as entry points
    assert "psycopg" in steps["postgres:"]  # a shared PostgreSQL cache works from the bundle

    share = dist / "audit-viewer" / "share"
    assert desktop_entry(share / "applications" / "audit-viewer.desktop")["Icon"] == "audit-viewer"
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / "audit-viewer.png").is_file()
