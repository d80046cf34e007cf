"""A full sync from the command line and from the window, with a known secret and the token the
platform handed out, leaves neither in any file the app wrote: not raw, URL-encoded, JSON-escaped
or base64 (at any alignment, as inside a longer encoded blob)."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from audit_viewer import cli, config, logs
from audit_viewer.sandbox import SandboxServer

# Characters that URL-encoding, JSON and base64 each change, so every form differs from the raw.
SECRET = 'leak-check/S3cr3t+=&?%"-5f0a9c'
PROFILE = "leakcheck"


def encodings(value: str) -> dict[str, bytes]:
    """Every form in which ``value`` could sit in a file."""
    raw = value.encode()
    forms = {
        "raw": raw,
        "url": quote(value, safe="").encode(),
        "url-path": quote(value).encode(),
        "url+": quote_plus(value).encode(),
        "json": json.dumps(value)[1:-1].encode(),
    }
    for offset in range(3):  # the value may start at any byte of a 3-byte base64 group
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            encoded = encode(b"\0" * offset + raw)
            first = -(-4 * offset // 3)  # the first character that depends on the value alone
            last = 4 * (offset + len(raw)) // 3
            forms[f"{name}@{offset}"] = encoded[first:last]
    return forms


def leaks(roots: Iterable[Path], secrets: dict[str, str]) -> list[str]:
    """ "<file>: <what> as <form>" for every secret form found in a file under ``roots``."""
    found = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            data = path.read_bytes()
            for what, value in secrets.items():
                for form, needle in encodings(value).items():
                    haystack, probe = (
                        (data.lower(), needle.lower()) if form.startswith("url") else (data, needle)
                    )
                    if probe in haystack:
                        found.append(f"{path}: {what} as {form}")
    return found


def test_the_scanner_finds_encoded_secrets(tmp_path):
    secrets = {"secret": SECRET}
    (tmp_path / "clean.log").write_text("nothing to see", encoding="utf-8")
    assert leaks([tmp_path], secrets) == []
    basic = base64.b64encode(f"me:{SECRET}".encode()[1:])  # in a longer blob, unaligned
    (tmp_path / "headers.txt").write_bytes(b"Authorization: Basic " + basic)
    (tmp_path / "query.txt").write_text(f"?s={quote_plus(SECRET).lower()}", encoding="utf-8")
    found = leaks([tmp_path], secrets)
    assert "headers.txt: secret as base64@2" in "\n".join(found)
    assert any("query.txt: secret as url" in f for f in found)


@pytest.mark.gui
@pytest.mark.slow
def test_a_full_sync_leaves_neither_secret_nor_token_in_any_file(
    qtbot, isolated_home, tmp_path, memory_keyring, monkeypatch, capsys
):
    from audit_viewer.app import create_window

    cache_dir, exports = tmp_path / "cache", tmp_path / "exports"
    exports.mkdir()
    tokens: list[str] = []
    with SandboxServer(events=1200, seed=11, client_id="leak-client", secret=SECRET) as server:
        issue = server._login  # the sandbox's login handler: note every token it hands out

        def recording_login(body: bytes) -> dict[str, str]:
            answer = issue(body)
            tokens.append(answer["accessToken"])
            return answer

        monkeypatch.setattr(server, "_login", recording_login)

        # The command line: save the profile (secret on stdin, into the keyring), sync at DEBUG
        # with -vv on stderr, export.
        monkeypatch.setattr(sys, "stdin", io.StringIO(SECRET + "\n"))
        add = ["profile", "add", PROFILE, "--base-url", server.url, "--client-id", "leak-client"]
        assert cli.main(add) == 0
        cache = str(cache_dir / "cache.sqlite3")
        sync = ["-vv", "--log-level", "DEBUG", "sync", "--profile", PROFILE, "--cache", cache]
        assert cli.main(sync) == 0
        assert cli.main(["export", "-o", str(exports / "cli.csv"), "--cache", cache]) == 0
        out, err = capsys.readouterr()
        assert "Synced 1200 new events" in out

        # The window: its own sync of the default cache, Save as CSV, then close.
        with logs.session(level="DEBUG"):
            win = create_window(["--profile", PROFILE])
            qtbot.addWidget(win)
            with qtbot.waitSignal(win.syncFinished, timeout=120_000):
                win.sync.start()
            with qtbot.waitSignal(win.exportFinished, timeout=60_000):
                win.exports.save_csv(exports / "window.csv")
            secrets = {"secret": SECRET, **{f"token {n}": t for n, t in enumerate(tokens)}}
            # While the window is open its cache still has a WAL file: scan that too.
            assert Path(win.session.store.location + "-wal").exists()
            open_leaks = leaks([isolated_home, cache_dir, exports], secrets)
            win.close()

    assert len(tokens) >= 2  # one login per sync at least
    # The tokens' random signatures, alone, in case something splits a token at its dots.
    secrets.update({f"token {n} signature": t.rsplit(".", 1)[-1] for n, t in enumerate(tokens)})

    # The run wrote what it should, so a clean scan means something.
    written = {p.relative_to(isolated_home).as_posix() for p in isolated_home.rglob("*")}
    assert {"config/settings.json", "config/window.ini", "data/cache.sqlite3"} <= written
    assert PROFILE in json.loads(config.settings_path().read_text(encoding="utf-8"))["profiles"]
    log = logs.log_file().read_text(encoding="utf-8")
    assert " DEBUG urllib3." in log and "Logged in to" in log and "Syncing profile" in log
    with open(exports / "window.csv", encoding="utf-8", newline="") as fh:
        assert len(list(csv.reader(fh))) == 1 + 1200
    assert os.path.getsize(cache) > 0

    assert open_leaks == []
    assert leaks([isolated_home, cache_dir, exports], secrets) == []
    for value in secrets.values():
        assert value not in out + err
