"""``audit-viewer --self-check``: passes on a working installation, fails loudly on a broken one,
and leaves the user's folders alone either way."""

from __future__ import annotations

import functools
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit_viewer import __version__
from audit_viewer.ui import self_check

pytestmark = pytest.mark.gui

STEPS = ("Qt", "icons", "keyring", "sandbox", "cache", "postgres", "window", "sync", "export")


def test_self_check_passes_and_touches_nothing_of_the_user(isolated_home: Path) -> None:
    env = {**os.environ, "AUDIT_VIEWER_CLIENT_SECRET": "a-secret-of-the-user"}
    env.pop("QT_QPA_PLATFORM", None)  # the check must choose offscreen itself
    done = subprocess.run(
        [sys.executable, "-m", "audit_viewer", "--self-check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[0] == f"audit-viewer {__version__} self-check"
    assert [line.split()[:2] for line in lines[1:-1]] == [["PASS", f"{s}:"] for s in STEPS]
    assert lines[-1] == "PASS"
    assert f"{self_check.SELF_CHECK_EVENTS:,} rows and the header" in done.stdout
    assert list(isolated_home.iterdir()) == []  # no cache, settings, layout or log of the user's
    assert "a-secret-of-the-user" not in done.stdout + done.stderr


def test_a_failing_step_is_named_and_exits_1(qapp, monkeypatch: pytest.MonkeyPatch) -> None:
    # A platform that refuses the sync (a non-admin client) stands in for a broken bundle.
    refusing = functools.partial(self_check.SandboxServer, admin=False)
    monkeypatch.setattr(self_check, "SandboxServer", refusing)
    out = io.StringIO()

    assert self_check.run_self_check(events=50, out=out) == 1

    lines = out.getvalue().splitlines()
    statuses = {line.split()[1].rstrip(":"): line.split()[0] for line in lines[1:-1]}
    assert statuses["window"] == "PASS"
    assert statuses["sync"] == "FAIL"
    assert "export" not in statuses  # later steps need the sync; they are not run
    assert lines[-1] == "FAIL"


def test_the_application_names_itself(qapp) -> None:
    from audit_viewer.ui.application import application

    app = application()
    assert (app.applicationName(), app.applicationVersion()) == ("audit-viewer", __version__)
    assert app.organizationName()
    assert not app.windowIcon().isNull()
