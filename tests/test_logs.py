"""The log file: where it is, how detailed (--log-level, the setting), rotation, redaction; and
the command line's help, which tells an admin about all of it."""

from __future__ import annotations

import argparse
import base64
import json
import logging
import re
import sys
import types
from datetime import datetime
from urllib.parse import quote

import pytest
from PySide6.QtWidgets import QMessageBox

from audit_viewer import app, cli, command_line, config, logs

SECRET = "Zq7/secret+with=odd&chars-5d1e"


def log_text() -> str:
    return "".join(p.read_text(encoding="utf-8") for p in config.log_dir().glob("*.log*"))


@pytest.fixture(autouse=True)
def fresh_redactor():
    yield
    logs.redact.clear()


# --- redaction -----------------------------------------------------------------------------


def test_a_registered_secret_is_masked_raw_url_encoded_and_base64():
    logs.redact.add(SECRET)
    raw = SECRET.encode()
    text = " | ".join(
        [
            SECRET,
            quote(SECRET, safe=""),
            base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode(),
            "Authorization: Bearer eyJhbGciOi.unknown-token.sig",
        ]
    )
    masked = logs.redact(text)
    assert masked.count("***") == 5
    assert "Zq7" not in masked and "eyJ" not in masked
    assert masked.startswith("*** | *** | ***")


def test_log_lines_arguments_and_tracebacks_are_masked(isolated_home):
    logs.redact.add(SECRET)
    with logs.session():
        log = logging.getLogger("audit_viewer.test")
        log.warning("login with %s", SECRET)
        try:
            raise ValueError(f"server echoed {SECRET}")
        except ValueError:
            log.exception("failed")
    text = log_text()
    assert "login with ***" in text and "server echoed ***" in text
    assert "Traceback" in text and SECRET not in text


def test_each_line_carries_its_time_zone(isolated_home):
    with logs.session():
        logging.getLogger("audit_viewer.test").warning("zoned")
    line = next(line for line in log_text().splitlines() if line.endswith("zoned"))
    stamp = line.split(" ", 1)[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", stamp), line
    assert datetime.fromisoformat(stamp).utcoffset() is not None


def test_a_failed_sync_is_logged_at_info_with_its_reason(isolated_home, tmp_path):
    from audit_viewer.api import PlatformClient
    from audit_viewer.cache import CacheStore
    from audit_viewer.sandbox import Faults, SandboxServer
    from audit_viewer.sync import SyncEngine

    reason = "Audit log is not enabled for this tenant"
    with (
        logs.session(),
        SandboxServer(events=5, faults=Faults(forbidden_message=reason)) as server,
        CacheStore.open(tmp_path / "c.sqlite3") as store,
        PlatformClient(server.url, server.client_id, server.secret) as client,
        pytest.raises(Exception, match=reason),
    ):
        SyncEngine(client, store, "p").run()
    failed = [line for line in log_text().splitlines() if "Sync of p failed" in line]
    assert len(failed) == 1 and " INFO " in failed[0] and reason in failed[0]


# --- where and how much --------------------------------------------------------------------


def test_the_log_file_is_in_the_log_folder_and_records_info_by_default(isolated_home):
    assert logs.log_file().parent == config.log_dir()
    assert logs.log_file().is_relative_to(isolated_home)
    with logs.session():
        assert logs.file_level() == "INFO"
        logging.getLogger("audit_viewer.test").info("an info line")
        logging.getLogger("audit_viewer.test").debug("a debug line")
    assert logs.file_level() is None
    assert "an info line" in log_text() and "a debug line" not in log_text()


def test_the_setting_picks_the_level_and_the_flag_wins(isolated_home):
    config.set_log_level("warning")
    assert json.loads(config.settings_path().read_text())["log_level"] == "WARNING"
    with logs.session():
        assert logs.file_level() == "WARNING"
    with logs.session(level="DEBUG"):
        assert logs.file_level() == "DEBUG"
    with pytest.raises(config.ConfigError, match="LOUD"):
        config.set_log_level("LOUD")


def test_a_nested_session_applies_its_level_until_it_ends(isolated_home):
    with logs.session():
        with logs.session(level="ERROR"):
            assert logs.file_level() == "ERROR"
            logging.getLogger("audit_viewer.test").warning("inner warning")
        assert logs.file_level() == "INFO"
        logging.getLogger("audit_viewer.test").warning("outer warning")
    text = log_text()
    assert "outer warning" in text and "inner warning" not in text


def test_an_unreadable_settings_file_leaves_the_default_level(isolated_home):
    config.settings_path().write_text("{ not json", encoding="utf-8")
    with logs.session():
        assert logs.file_level() == "INFO"


def test_the_file_rotates_and_keeps_a_bounded_number(isolated_home, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2_000)
    with logs.session():
        for n in range(400):
            logging.getLogger("audit_viewer.test").info("line %d of a long session", n)
    files = sorted(p.name for p in config.log_dir().iterdir())
    assert files == ["audit-viewer.log", *(f"audit-viewer.log.{n}" for n in (1, 2, 3))]
    assert "line 399 " in logs.log_file().read_text(encoding="utf-8")


# --- the command line and the window use it ------------------------------------------------


def test_cli_log_level_flag_before_or_after_the_command_and_the_setting(isolated_home, capsys):
    # `sync` with nothing to sync fails with a usage error, which the log records at INFO.
    assert cli.main(["sync"]) == cli.EXIT_USAGE
    assert "sync failed: No profile to sync" in log_text()
    logs.log_file().unlink()

    config.set_log_level("WARNING")
    assert cli.main(["sync"]) == cli.EXIT_USAGE
    assert not logs.log_file().exists() or "sync failed" not in log_text()

    assert cli.main(["--log-level", "INFO", "sync"]) == cli.EXIT_USAGE
    assert "sync failed" in log_text()
    logs.log_file().unlink()
    assert cli.main(["sync", "--log-level", "info"]) == cli.EXIT_USAGE
    assert "sync failed" in log_text()

    assert cli.main(["--log-level", "LOUD", "sync"]) == cli.EXIT_USAGE
    assert "Unknown log level 'LOUD'" in capsys.readouterr().err


def test_the_window_gets_log_level_and_verbosity_from_the_command_line(monkeypatch):
    calls: list[tuple[str | None, int, bool, bool]] = []
    fake = types.ModuleType("audit_viewer.app")

    def launch(args):
        calls.append((args.log_level, args.verbose, args.demo, args.utc))
        return 0

    fake.launch = launch  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "audit_viewer.app", fake)
    assert cli.main(["-v", "--log-level", "DEBUG", "--demo"]) == 0
    assert cli.main(["--log-level=ERROR", "gui", "--utc"]) == 0
    assert calls == [("DEBUG", 1, True, False), ("ERROR", 0, False, True)]


@pytest.mark.gui
def test_the_app_logs_to_the_file_at_its_log_level(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(
        QMessageBox, "critical", staticmethod(lambda *a: QMessageBox.StandardButton.Ok)
    )
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 100)
    assert app.main(["--cache", str(bad), "--log-level", "WARNING"]) == 2
    assert not logs.log_file().exists() or "Cannot open the window" not in log_text()
    assert app.main(["--cache", str(bad)]) == 2
    assert f"Cannot open the window: {bad}" in log_text()


@pytest.mark.gui
def test_help_menu_log_level_applies_now_and_is_saved(qtbot, tmp_path):
    from audit_viewer.app import create_window

    with logs.session():
        win = create_window(["--cache", str(tmp_path / "c.sqlite3")])
        qtbot.addWidget(win)
        menu = win.findChild(type(win.menuBar().actions()[0].menu()), "logLevelMenu")
        entries = {a.data(): a for a in menu.actions() if a.data()}
        assert list(entries) == list(config.LOG_LEVELS)
        assert entries["INFO"].isChecked()
        assert str(logs.log_file()) in win.findChild(type(entries["INFO"]), "actLogFile").text()
        entries["DEBUG"].trigger()
        assert logs.file_level() == "DEBUG"
        assert config.log_level() == "DEBUG"
        assert entries["DEBUG"].isChecked() and not entries["INFO"].isChecked()
        win.close()
    with logs.session():  # the next start
        assert logs.file_level() == "DEBUG"


# --- help texts ----------------------------------------------------------------------------


def _parsers(parser: argparse.ArgumentParser, name: str):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_and_command_has_help_and_examples():
    for name, parser in _parsers(command_line.build_parser(), "cli"):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for command in action._choices_actions:
                    assert command.help, f"{name} {command.dest} has no help line"
            else:
                assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
        assert "example" in (parser.epilog or ""), f"{name} has no examples"
        assert any(a.dest == "log_level" for a in parser._actions), name


def test_version_and_help_read_well(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("audit-viewer ")
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("gui", "sync", "export", "profile", "sandbox", "--log-level", "examples:"):
        assert word in out
    assert cli.main(["gui", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--demo" in out and "--log-level LEVEL" in out and "examples:" in out
