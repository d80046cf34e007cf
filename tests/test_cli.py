"""The command line end to end: a real sandbox server, real SQLite caches, main() in-process and
`python -m audit_viewer` in subprocesses, as an admin would run them."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import keyring.core
import pytest
from keyring.backends import fail
from keyring_backend import ENV_FILE, MemoryKeyring

from audit_viewer import __version__, cli, command_line, config, logs

TESTS_DIR = Path(__file__).resolve().parent
WRONG_SECRET = "wrong-secret-7f3a9c"
HEADER = [
    "id",
    "created_at",
    "user",
    "user_name",
    "user_email",
    "actor_type",
    "action",
    "description",
    "flags",
]


@pytest.fixture
def cache(tmp_path: Path) -> str:
    return str(tmp_path / "cache.sqlite3")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """main() in-process; returns (exit code, stdout, stderr)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_subprocess(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "audit_viewer", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=subprocess_env(env),
        timeout=180,
    )


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)  # carries AUDIT_VIEWER_HOME from the conftest
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS_DIR), env.get("PYTHONPATH")]))
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra or {})
    return env


def read_csv(text: str) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


def sync_args(server, cache: str, *extra: str) -> list[str]:
    return [
        "sync",
        "--base-url",
        server.url,
        "--client-id",
        server.client_id,
        "--cache",
        cache,
        *extra,
    ]


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("audit-viewer: error: ")
    return lines[0]


def log_text() -> str:
    return "".join(p.read_text(encoding="utf-8") for p in config.log_dir().glob("*.log*"))


# --- one first sync, shared ---------------------------------------------------------------


@dataclass
class Synced:
    server: Any
    cache: Path
    code: int
    out: str
    err: str

    @property
    def ids(self) -> set[str]:
        return {e["id"] for e in self.server.all_events()}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """One sandbox and one first sync through the CLI, for every test that reads a synced cache.

    A first sync reads the 90-day window in day-sized chunks at the contract's 10 requests per
    second, about ten seconds; the tests copy the result instead of repeating it.
    """
    from audit_viewer.sandbox import SandboxServer

    home = tmp_path_factory.mktemp("synced-home")
    cache = home / "template.sqlite3"
    with SandboxServer(events=1500, seed=7) as server, pytest.MonkeyPatch.context() as mp:
        mp.setenv(config.ENV_HOME, str(home))
        mp.setenv(config.ENV_SECRET, server.secret)
        mp.setattr(keyring.core, "_keyring_backend", fail.Keyring())
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(sync_args(server, str(cache)))
        yield Synced(server, cache, code, out.getvalue(), err.getvalue())


@pytest.fixture
def synced_cache(synced: Synced, tmp_path: Path) -> str:
    """A private copy of the shared synced cache (SQLite's backup API copies it consistently)."""
    target = tmp_path / "cache.sqlite3"
    with (
        contextlib.closing(sqlite3.connect(synced.cache)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)
    return str(target)


# --- sync + export -------------------------------------------------------------------------


def test_sync_then_export_without_any_profile_gives_exactly_the_servers_events(
    synced: Synced, synced_cache: str, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, expected = synced.server, synced.ids
    profile = config.derived_profile_name(server.url, server.client_id)
    assert (synced.code, synced.err) == (0, "")
    assert re.fullmatch(
        rf"Synced {len(expected)} new events \({len(expected)} cached\) "
        rf"for profile {re.escape(profile)} in \d+\.\d s\n",
        synced.out,
    )

    target = tmp_path / "audit.csv"
    code, out, err = run(capsys, "export", "-o", str(target), "--cache", synced_cache)
    assert code == 0 and out == ""
    assert err == f"Exported {len(expected)} events to {target}\n"
    rows = read_csv(target.read_text(encoding="utf-8"))
    assert {r["id"] for r in rows} == expected and len(rows) == len(expected)
    times = [r["created_at"] for r in rows]
    assert times == sorted(times, reverse=True)  # newest first, as the platform shows them

    monkeypatch.setenv(config.ENV_SECRET, server.secret)
    code, out, err = run(capsys, *sync_args(server, synced_cache))
    assert (code, err) == (0, "")
    assert out.startswith(f"Synced 0 new events ({len(expected)} cached) for profile {profile}")


def test_export_query_filters_and_a_bad_query_names_the_position(
    synced: Synced, synced_cache: str, tmp_path: Path, capsys
) -> None:
    system = {e["id"] for e in synced.server.all_events() if e["actor_type"] == "system"}
    assert 0 < len(system) < len(synced.ids)

    code, out, err = run(
        capsys, "export", "-o", "-", "--cache", synced_cache, "--query", "actor:system"
    )
    assert code == 0
    rows = read_csv(out)
    assert {r["id"] for r in rows} == system
    assert {r["actor_type"] for r in rows} == {"system"}
    assert err == f"Exported {len(system)} events to standard output\n"

    target = tmp_path / "bad.csv"
    code, out, err = run(
        capsys, "export", "-o", str(target), "--cache", synced_cache, "--query", "usr:x"
    )
    assert code == cli.EXIT_USAGE
    assert "at character 1" in one_line(err)
    assert not target.exists()


def test_export_as_json_lines_gives_each_event_as_received(
    synced: Synced, synced_cache: str, tmp_path: Path, capsys
) -> None:
    sent = {e["id"]: e for e in synced.server.all_events()}
    target = tmp_path / "evidence.jsonl"  # the suffix chooses the format
    code, _, err = run(capsys, "export", "-o", str(target), "--cache", synced_cache)
    assert (code, err) == (0, f"Exported {len(sent)} events to {target}\n")
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(sent)
    assert all(json.loads(line) == sent[json.loads(line)["id"]] for line in lines)

    code, out, _ = run(
        capsys,
        "export",
        "--format",
        "jsonl",
        "-o",
        "-",
        "--cache",
        synced_cache,
        "--query",
        "-system",
    )
    assert code == 0
    ids = {json.loads(line)["id"] for line in out.splitlines()}
    assert ids == {i for i, e in sent.items() if e["actor_type"] != "system"}
    code, _, err = run(capsys, "export", "-o", "x.jsonl", "--bom", "--cache", synced_cache)
    assert code == cli.EXIT_USAGE and "JSON Lines" in one_line(err)


def test_export_as_an_excel_workbook(synced: Synced, synced_cache: str, tmp_path: Path, capsys):
    from test_workbook import sheets

    target = tmp_path / "review.xlsx"  # the suffix chooses the format
    code, _, err = run(capsys, "export", "-o", str(target), "--cache", synced_cache)
    assert (code, err) == (0, f"Exported {len(synced.ids)} events to {target}\n")
    (rows,) = sheets(target).values()
    assert rows[0] == HEADER
    assert {row[0] for row in rows[1:]} == synced.ids
    code, _, err = run(capsys, "export", "-o", "-", "--format", "xlsx", "--cache", synced_cache)
    assert code == cli.EXIT_EXPORT and "a workbook needs a file" in one_line(err)


def test_export_query_knows_the_archives_extra_fields(
    synced: Synced, synced_cache: str, capsys
) -> None:
    sent = synced.server.all_events()
    ip = next(e["ip_address"] for e in sent if "ip_address" in e)
    code, out, err = run(
        capsys, "export", "-o", "-", "--cache", synced_cache, "--query", f"ip_address:={ip}"
    )
    assert code == 0, err
    assert {r["id"] for r in read_csv(out)} == {e["id"] for e in sent if e.get("ip_address") == ip}
    code, out, err = run(
        capsys, "export", "-o", "-", "--cache", synced_cache, "--query", "ip_adress:1"
    )
    assert (code, out) == (cli.EXIT_USAGE, "")
    assert "Unknown qualifier 'ip_adress:'" in one_line(err)


def test_export_query_finds_an_extra_field_only_a_few_events_carry(cache: str, capsys) -> None:
    from audit_viewer.cache import CacheStore
    from audit_viewer.events import normalize_event
    from audit_viewer.frame import extra_fields

    start = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        {"id": f"E{i:05d}", "created_at": (start - timedelta(minutes=i)).isoformat()}
        for i in range(5000)
    ]
    events[1]["rare_field"] = "needle"  # one event, which the extra-field sample skips
    with CacheStore.open(cache) as store:
        store.upsert_events("p", [normalize_event(e) for e in events])
        assert "rare_field" not in {f.name for f in extra_fields(store.load_frame("p"))}
    code, out, err = run(capsys, "export", "-o", "-", "--cache", cache, "--query", "rare_field:ne")
    assert code == 0, err
    assert [row["id"] for row in read_csv(out)] == ["E00001"]


def test_export_guards_formulas_by_default_and_can_add_a_bom(
    synced: Synced, synced_cache: str, tmp_path: Path, capsys
) -> None:
    hostile = {e["id"]: e["description"] for e in synced.server.all_events()}
    hostile = {k: v for k, v in hostile.items() if v and v[0] in "=+-@"}
    assert hostile, "the sandbox serves descriptions that look like formulas"

    guarded, raw = tmp_path / "guarded.csv", tmp_path / "raw.csv"
    assert run(capsys, "export", "-o", str(guarded), "--cache", synced_cache, "--bom")[0] == 0
    args = ["export", "-o", str(raw), "--cache", synced_cache, "--no-formula-guard"]
    assert run(capsys, *args)[0] == 0
    assert guarded.read_bytes().startswith(b"\xef\xbb\xbf")
    assert not raw.read_bytes().startswith(b"\xef\xbb\xbf")
    by_id_guarded = {r["id"]: r for r in read_csv(guarded.read_text(encoding="utf-8-sig"))}
    by_id_raw = {r["id"]: r for r in read_csv(raw.read_text(encoding="utf-8"))}
    for event_id, description in hostile.items():
        assert by_id_guarded[event_id]["description"] == "'" + description
        assert by_id_raw[event_id]["description"] == description


def test_export_with_several_profiles_lists_them_and_stops(
    synced: Synced, synced_cache: str, tmp_path: Path, capsys
) -> None:
    from audit_viewer.cache import CacheStore
    from audit_viewer.events import normalize_event

    with CacheStore.open(synced_cache) as store:  # a second tenant archived in the same cache
        store.upsert_events("beta", [normalize_event(e) for e in synced.server.all_events()[:7]])
    derived = config.derived_profile_name(synced.server.url, synced.server.client_id)

    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "export", "-o", str(target), "--cache", synced_cache)
    assert code == cli.EXIT_USAGE and out == ""
    first, *listed = err.strip().splitlines()
    assert first.startswith("audit-viewer: error: ") and "--profile" in first
    assert [line.split()[0] for line in listed] == sorted(["beta", derived])
    assert "beta (7 events)" in err
    assert not target.exists()

    code, _, err = run(
        capsys, "export", "-o", str(target), "--cache", synced_cache, "--profile", "beta"
    )
    assert code == 0
    assert len(read_csv(target.read_text(encoding="utf-8"))) == 7
    code, _, err = run(capsys, "export", "-o", "-", "--cache", synced_cache, "--profile", "gamma")
    assert code == cli.EXIT_USAGE and "beta" in one_line(err)


def test_export_without_options_uses_the_default_profile_and_its_cache(
    synced: Synced, synced_cache: str, tmp_path: Path, capsys
) -> None:
    # A team's shared archive: the default profile names a cache elsewhere, which also holds
    # another tenant. Plain `export` takes the default profile's events from it.
    from audit_viewer.cache import CacheStore
    from audit_viewer.events import normalize_event

    with CacheStore.open(synced_cache) as store:
        store.upsert_events("beta", [normalize_event(e) for e in synced.server.all_events()[:7]])
    config.save_profile(config.Profile(name="beta", cache=synced_cache))
    config.set_default_profile("beta")
    target = tmp_path / "out.csv"
    code, _, err = run(capsys, "export", "-o", str(target))
    assert (code, err) == (0, f"Exported 7 events to {target}\n")


def test_export_from_an_empty_or_missing_cache_says_so(tmp_path: Path, capsys) -> None:
    from audit_viewer.cache import CacheStore

    missing = tmp_path / "nowhere.sqlite3"
    code, _, err = run(capsys, "export", "-o", "-", "--cache", str(missing))
    assert code == cli.EXIT_USAGE
    assert "No cache at" in one_line(err) and "sync" in err
    assert not missing.exists()  # looking did not create it

    empty = tmp_path / "empty.sqlite3"
    CacheStore.open(empty).close()
    code, out, err = run(capsys, "export", "-o", "-", "--cache", str(empty))
    assert code == cli.EXIT_USAGE and out == ""
    assert "is empty" in one_line(err)


def test_keep_days_drops_older_events_from_the_archive(
    synced: Synced, synced_cache: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_SECRET, synced.server.secret)
    assert run(capsys, *sync_args(synced.server, synced_cache, "--keep-days", "30"))[0] == 0
    code, out, _ = run(capsys, "export", "-o", "-", "--cache", synced_cache)
    assert code == 0
    cutoff = format(datetime.now(UTC) - timedelta(days=30, minutes=5), "%Y-%m-%dT%H:%M:%S")
    rows = read_csv(out)
    assert rows and all(r["created_at"] >= cutoff for r in rows)
    assert len(rows) < len(synced.ids)


# --- sync failures: one line, right exit code, never the secret ----------------------------


def test_sync_without_a_secret_says_how_to_give_one(synced: Synced, cache: str, capsys) -> None:
    code, out, err = run(capsys, *sync_args(synced.server, cache))
    assert code == cli.EXIT_USAGE and out == ""
    assert config.ENV_SECRET in one_line(err)


def test_sync_without_any_profile_says_what_to_pass(capsys, monkeypatch) -> None:
    code, _, err = run(capsys, "sync")
    assert code == cli.EXIT_USAGE
    line = one_line(err)
    assert "--profile" in line and "--base-url" in line
    monkeypatch.setenv(config.ENV_PROFILE, "staging")
    code, _, err = run(capsys, "sync")
    assert code == cli.EXIT_USAGE
    assert "'staging'" in one_line(err) and config.ENV_PROFILE in err


def test_sync_with_bad_credentials_fails_in_one_line_without_the_secret(
    synced: Synced, cache: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.ENV_SECRET, WRONG_SECRET)
    code, out, err = run(capsys, *sync_args(synced.server, cache))
    assert code == cli.EXIT_AUTH and out == ""
    assert "credentials" in one_line(err).lower()
    code, out, err = run(capsys, "-vv", *sync_args(synced.server, cache))  # debug logging too
    assert code == cli.EXIT_AUTH
    assert WRONG_SECRET not in out + err
    assert log_text() and WRONG_SECRET not in log_text()


def test_sync_as_a_non_administrator_fails_plainly(
    cache: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit_viewer.sandbox import SandboxServer

    with SandboxServer(events=50, seed=3, admin=False) as server:
        monkeypatch.setenv(config.ENV_SECRET, server.secret)
        code, out, err = run(capsys, *sync_args(server, cache))
    assert code == cli.EXIT_FORBIDDEN and out == ""
    assert "administrator" in one_line(err)
    assert server.secret not in err


def test_plain_http_to_a_remote_host_is_refused(capsys, monkeypatch) -> None:
    monkeypatch.setenv(config.ENV_SECRET, "whatever-secret")
    code, _, err = run(capsys, "sync", "--base-url", "http://api.jit.io", "--client-id", "c")
    assert code == cli.EXIT_USAGE
    assert "http" in one_line(err)


def test_there_is_no_way_to_pass_a_secret_on_the_command_line(capsys) -> None:
    def option_strings(parser) -> Iterator[str]:
        for action in parser._actions:
            yield from action.option_strings
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from option_strings(sub)

    options = list(option_strings(command_line.build_parser()))
    assert "--base-url" in options and "--client-id" in options
    assert not [o for o in options if re.search(r"secret|password|key|token(?!-ttl)", o)]
    code, _, err = run(capsys, "sync", "--secret", "x", "--base-url", "http://127.0.0.1:1")
    assert code == cli.EXIT_USAGE and "unrecognized arguments" in err


# --- profiles and the keyring --------------------------------------------------------------
# Profiles that sync are named like the shared cache's ad hoc sync, so they continue that
# archive (a quick incremental sync) instead of reading the whole window again.


def test_profile_add_list_sync_remove_with_a_keyring(
    synced: Synced, synced_cache: str, capsys, memory_keyring: MemoryKeyring, monkeypatch
) -> None:
    server = synced.server
    name = config.derived_profile_name(server.url, server.client_id)
    monkeypatch.setattr(sys, "stdin", io.StringIO(server.secret + "\n"))
    code, out, err = run(
        capsys, "profile", "add", name, "--base-url", server.url,
        "--client-id", server.client_id, "--page-size", "250",
    )  # fmt: skip
    assert code == 0, err
    assert f"Saved profile {name} (default)" in out
    assert memory_keyring.stored() == {("audit-viewer", name): server.secret}
    settings = config.settings_path().read_text(encoding="utf-8")
    assert server.secret not in settings and '"page_size": 250' in settings

    code, out, _ = run(capsys, "profile", "list")
    assert code == 0
    row = next(line for line in out.splitlines() if f" {name} " in line)
    assert row.startswith("*") and "stored in keyring" in row and server.url in row

    code, out, err = run(capsys, "sync", "--cache", synced_cache)  # default profile + keyring
    assert code == 0, err
    assert out.startswith(f"Synced 0 new events ({len(synced.ids)} cached) for profile {name}")

    code, out, err = run(capsys, "profile", "remove", name)
    assert code == 0
    assert memory_keyring.stored() == {}
    assert config.load_profiles() == {}
    code, out, _ = run(capsys, "profile", "list")
    assert "No profiles saved" in out
    logs = log_text()
    for text in (out, err, logs):
        assert server.secret not in text


def test_profile_default_and_duplicate_names(capsys, memory_keyring, monkeypatch) -> None:
    for name in ("one", "two"):
        monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
        args = ["profile", "add", name, "--base-url", "https://api.jit.io", "--client-id", "c"]
        assert run(capsys, *args)[0] == 0
    assert config.default_profile_name() == "one"  # the first profile becomes the default
    assert run(capsys, "profile", "default", "two")[1] == "Default profile: two\n"
    assert run(capsys, "profile", "default")[1] == "Default profile: two\n"
    code, _, err = run(capsys, "profile", "default", "three")
    assert code == cli.EXIT_USAGE and "three" in one_line(err)

    monkeypatch.setattr(sys, "stdin", io.StringIO("s3cret\n"))
    args = ["profile", "add", "one", "--base-url", "https://x.io", "--client-id", "c"]
    code, _, err = run(capsys, *args)
    assert code == cli.EXIT_USAGE and "--replace" in one_line(err)
    assert run(capsys, *args, "--replace")[0] == 0
    assert config.load_profiles()["one"].base_url == "https://x.io"
    code, _, err = run(capsys, "profile", "remove", "three")
    assert code == cli.EXIT_USAGE


def test_profile_add_without_a_keyring_says_to_use_the_environment(
    synced: Synced, synced_cache: str, capsys, monkeypatch
) -> None:
    server = synced.server
    name = config.derived_profile_name(server.url, server.client_id)
    monkeypatch.setattr(sys, "stdin", io.StringIO("never-read\n"))
    code, out, err = run(
        capsys, "profile", "add", name, "--base-url", server.url, "--client-id", server.client_id
    )
    assert code == 0
    assert "no system keyring" in out and config.ENV_SECRET in out
    assert sys.stdin.read() == "never-read\n"  # nothing was asked for, nothing stored

    code, out, _ = run(capsys, "profile", "list")
    assert "keyring unavailable" in out and config.ENV_SECRET in out

    code, _, err = run(capsys, "sync", "--profile", name, "--cache", synced_cache)
    assert code == cli.EXIT_USAGE
    line = one_line(err)
    assert config.ENV_SECRET in line and "keyring" in line

    monkeypatch.setenv(config.ENV_SECRET, server.secret)
    code, out, _ = run(capsys, "sync", "--profile", name, "--cache", synced_cache)
    assert code == 0 and f"for profile {name}" in out


def test_bad_profile_arguments_fail_before_asking_for_a_secret(capsys, memory_keyring) -> None:
    args = ["--base-url", "http://api.jit.io", "--client-id", "c"]
    code, _, err = run(capsys, "profile", "add", "p", *args)
    assert code == cli.EXIT_USAGE and "http" in one_line(err)
    args = ["--base-url", "https://api.jit.io", "--client-id", "c"]
    code, _, err = run(capsys, "profile", "add", "bad name", *args)
    assert code == cli.EXIT_USAGE and "Invalid profile name" in one_line(err)
    assert memory_keyring.stored() == {} and config.load_profiles() == {}


# --- what is at -o, and what no failure may print --------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_export_to_a_full_disk_is_one_line_and_leaves_nothing(synced_cache: str, capsys) -> None:
    code, out, err = run(capsys, "export", "-o", "/dev/full", "--cache", synced_cache)
    assert code == cli.EXIT_EXPORT and out == ""
    assert one_line(err) == "audit-viewer: error: Could not write /dev/full: the disk is full"
    assert Path("/dev/full").is_char_device()
    assert [p for p in os.listdir("/dev") if p.endswith(".part")] == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_export_into_a_fifo_feeds_its_reader(
    synced: Synced, synced_cache: str, tmp_path: Path, capsys
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    copy = tmp_path / "received.csv"
    with copy.open("wb") as sink, subprocess.Popen(["cat", str(fifo)], stdout=sink) as reader:
        code, _, err = run(capsys, "export", "-o", str(fifo), "--cache", synced_cache)
        reader.wait(timeout=60)
    received = copy.read_text(encoding="utf-8")
    assert (code, err) == (0, f"Exported {len(synced.ids)} events to {fifo}\n")
    assert {r["id"] for r in read_csv(received)} == synced.ids
    assert fifo.is_fifo()


def test_a_query_may_start_with_a_dash(synced: Synced, synced_cache: str, capsys) -> None:
    by_equals = run(capsys, "export", "-o", "-", "--cache", synced_cache, "--query=-system")
    spaced = run(capsys, "export", "--query", "-system", "-o", "-", "--cache", synced_cache)
    assert spaced[0] == by_equals[0] == 0
    assert spaced[1] == by_equals[1]
    rows = read_csv(spaced[1])
    assert 0 < len(rows) < len(synced.ids)
    assert "system" not in {r["actor_type"] for r in rows}
    # A forgotten value is still said to be missing, not taken for the query "-o".
    code, _, err = run(capsys, "export", "--query", "-o", "x.csv", "--cache", synced_cache)
    assert code == cli.EXIT_USAGE and "--query: expected one argument" in err


def test_an_error_line_is_short_however_long_its_cause(synced_cache: str, capsys) -> None:
    name = "tenant-" + "x" * 2000
    code, _, err = run(capsys, "export", "-o", "-", "--cache", synced_cache, "--profile", name)
    assert code == cli.EXIT_USAGE
    line = one_line(err)
    assert len(line) <= len("audit-viewer: error: ") + logs.LINE_LIMIT and line.endswith("…")


def test_a_bug_is_one_line_naming_the_log_and_exit_1(
    synced_cache: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args):
        raise RuntimeError("unexpected state " + "y" * 5000)

    monkeypatch.setitem(cli.HANDLERS, "export", broken)
    code, out, err = run(capsys, "export", "-o", "-", "--cache", synced_cache)
    assert code == cli.EXIT_INTERNAL and out == ""
    line = one_line(err)
    assert line.startswith("audit-viewer: error: internal error (RuntimeError: unexpected state")
    assert len(line) <= len("audit-viewer: error: ") + logs.LINE_LIMIT
    assert "Traceback" not in err
    assert "Traceback" in log_text() and "in broken" in log_text()


def test_a_bug_before_any_command_runs_is_one_line_too(capsys, monkeypatch) -> None:
    def broken() -> None:
        raise LookupError("parser table missing")

    monkeypatch.setattr(command_line, "build_parser", broken)
    code, _, err = run(capsys, "export", "-o", "-")
    assert code == cli.EXIT_INTERNAL
    assert "internal error (LookupError: parser table missing)" in one_line(err)
    assert str(config.log_dir()) in err and "parser table missing" in log_text()

    monkeypatch.undo()
    window = types.ModuleType("audit_viewer.app")  # the window's path
    window.launch = lambda args: {}["no such key"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "audit_viewer.app", window)
    code, _, err = run(capsys, "--demo")
    assert code == cli.EXIT_INTERNAL and "internal error (KeyError" in one_line(err)


def test_ctrl_c_outside_a_worker_exits_130(capsys, monkeypatch) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.HANDLERS, "profile list", interrupted)
    code, _, err = run(capsys, "profile", "list")
    assert (code, err) == (cli.EXIT_INTERRUPTED, "audit-viewer: interrupted\n")


@pytest.mark.parametrize("breakage", ["folder-is-a-file", "disk-full"])
def test_a_log_that_cannot_be_written_never_stops_the_work(
    synced: Synced, synced_cache: str, tmp_path: Path, breakage: str
) -> None:
    """A full or unwritable log folder: said once, and the sync and export still succeed."""
    if breakage == "disk-full" and not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    home = tmp_path / "home"
    home.mkdir()
    if breakage == "folder-is-a-file":
        (home / "logs").write_text("not a folder")
    else:
        (home / "logs").mkdir()
        (home / "logs" / "audit-viewer.log").symlink_to("/dev/full")
    env = {config.ENV_HOME: str(home), config.ENV_SECRET: synced.server.secret}
    # -v: every library's info goes to the log too, dozens of lines that each fail to be written
    sync = run_subprocess("-v", *sync_args(synced.server, synced_cache), env=env)
    assert sync.returncode == 0, sync.stderr
    assert sync.stdout.startswith(f"Synced 0 new events ({len(synced.ids)} cached)")
    warnings = [line for line in sync.stderr.splitlines() if "log file" in line]
    assert len(warnings) == 1 and "going on without it" in warnings[0]
    assert "Logging error" not in sync.stderr and "Traceback" not in sync.stderr

    export = run_subprocess("export", "-o", "-", "--cache", synced_cache, env=env)
    assert export.returncode == 0, export.stderr
    assert {r["id"] for r in read_csv(export.stdout)} == synced.ids
    assert export.stderr.count("cannot write the log file") == 1
    assert export.stderr.endswith(f"Exported {len(synced.ids)} events to standard output\n")


# --- the same through `python -m audit_viewer` ---------------------------------------------


def test_subprocess_sync_and_export_to_stdout(synced: Synced, synced_cache: str) -> None:
    server = synced.server
    sync = run_subprocess(*sync_args(server, synced_cache), env={config.ENV_SECRET: server.secret})
    assert sync.returncode == 0, sync.stderr
    assert sync.stdout.startswith(f"Synced 0 new events ({len(synced.ids)} cached)")
    assert sync.stderr == ""  # not a terminal: no progress bar, nothing noisy

    export = run_subprocess("export", "-o", "-", "--cache", synced_cache)
    assert export.returncode == 0, export.stderr
    assert {r["id"] for r in read_csv(export.stdout)} == synced.ids
    assert export.stderr == f"Exported {len(synced.ids)} events to standard output\n"


def test_a_sync_loads_neither_the_readers_nor_the_window(synced: Synced, synced_cache: str) -> None:
    """What a sync does not need stays unloaded: most of its start-up time was importing it."""
    heavy = ("pandas", "pyarrow", "polars", "adbc_driver_sqlite", "alembic", "PySide6", "duckdb")
    code = (
        "import sys\n"
        "from audit_viewer.cli import main\n"
        f"code = main({sync_args(synced.server, synced_cache)!r})\n"
        f"print(code, sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=subprocess_env({config.ENV_SECRET: synced.server.secret}),
        timeout=180,
    )
    assert done.stdout.splitlines()[-1] == "0 []", done.stderr


def test_subprocess_profile_add_from_stdin_then_sync_never_shows_the_secret(
    synced: Synced, synced_cache: str, tmp_path: Path
) -> None:
    server = synced.server
    name = config.derived_profile_name(server.url, server.client_id)
    keyring_env = {
        "PYTHON_KEYRING_BACKEND": "keyring_backend.MemoryKeyring",
        ENV_FILE: str(tmp_path / "keyring.json"),
    }
    add = run_subprocess(
        "profile", "add", name, "--base-url", server.url, "--client-id", server.client_id,
        env=keyring_env, stdin=server.secret + "\n",
    )  # fmt: skip
    assert add.returncode == 0, add.stderr
    listing = run_subprocess("profile", "list", env=keyring_env)
    assert "stored in keyring" in listing.stdout
    sync = run_subprocess("-v", "sync", "--profile", name, "--cache", synced_cache, env=keyring_env)
    assert sync.returncode == 0, sync.stderr
    assert f"for profile {name}" in sync.stdout
    for proc in (add, listing, sync):
        assert server.secret not in proc.stdout + proc.stderr
    assert server.secret not in config.settings_path().read_text(encoding="utf-8")
    assert server.secret not in log_text()


def test_subprocess_bad_credentials(synced: Synced, cache: str) -> None:
    env = {config.ENV_SECRET: WRONG_SECRET}
    proc = run_subprocess(*sync_args(synced.server, cache), env=env)
    assert proc.returncode == cli.EXIT_AUTH
    assert proc.stdout == ""
    one_line(proc.stderr)
    assert WRONG_SECRET not in proc.stderr


def test_ctrl_c_cancels_a_sync_cleanly_and_the_next_one_finishes(cache: str) -> None:
    from audit_viewer.sandbox import Faults, SandboxServer

    with SandboxServer(events=600, seed=5, faults=Faults(slow_page_seconds=0.3)) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "audit_viewer", *sync_args(server, cache, "--page-size", "5")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=subprocess_env({config.ENV_SECRET: server.secret}),
        )
        try:
            deadline = time.monotonic() + 60
            while server.stats.list_requests < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == cli.EXIT_INTERRUPTED, err
        assert "cancelled" in err and "run the same command again" in err
        assert "Traceback" not in err

        server.faults.slow_page_seconds = 0.0
        rerun = run_subprocess(
            *sync_args(server, cache, "--page-size", "1000"),
            env={config.ENV_SECRET: server.secret},
        )
        assert rerun.returncode == 0, rerun.stderr
        exported = run_subprocess("export", "-o", "-", "--cache", cache)
        assert {r["id"] for r in read_csv(exported.stdout)} == {
            e["id"] for e in server.all_events()
        }


def test_the_sandbox_command_plays_every_hostile_mode() -> None:
    from audit_viewer.sandbox import POISON_SAMPLE, Faults

    parser = command_line.build_parser()
    assert cli.sandbox_faults(parser.parse_args(["sandbox"])) == Faults()
    hostile = parser.parse_args(
        [
            "sandbox",
            "--poison",
            "--cycle-cursors",
            "--repeat-page-forever",
            "--empty-pages-forever",
            "--trickle",
            "5",
            "--drop-mid-body-every",
            "3",
            "--forbidden-message",
            "Audit log is not enabled for this tenant",
            "--rate-limit-every",
            "2",
            "--retry-after",
            "86400",
            "--server-error-every",
            "4",
            "--malformed-every",
            "6",
            "--repeat-across-pages",
            "--slow-page",
            "0.5",
            "--token-ttl",
            "30",
            "--no-rate-limit",
        ]
    )
    assert cli.sandbox_faults(hostile) == Faults(
        rate_limit_every=2,
        retry_after=86400.0,
        server_error_every=4,
        token_ttl=30.0,
        slow_page_seconds=0.5,
        enforce_rate_limit=False,
        malformed_every=6,
        repeat_across_pages=True,
        raw_events=list(POISON_SAMPLE),
        forbidden_message="Audit log is not enabled for this tenant",
        cycle_cursors=True,
        repeat_page_forever=True,
        empty_pages_forever=True,
        trickle_seconds=5.0,
        drop_mid_body_every=3,
    )


def test_sandbox_command_serves_until_ctrl_c() -> None:
    from audit_viewer.api import PlatformClient

    proc = subprocess.Popen(
        [sys.executable, "-m", "audit_viewer", "sandbox", "--port", "0", "--events", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        url = re.search(r"http://127\.0\.0\.1:\d+", "".join(lines)).group(0)
        example = next(line for line in lines if " sync " in line).split()
        assert example[0].startswith(f"{config.ENV_SECRET}=")
        assert example[1:6] == ["audit-viewer", "sync", "--base-url", url, "--client-id"]
        secret, client_id = example[0].split("=", 1)[1], example[6]

        with PlatformClient(url, client_id, secret) as client:  # the printed credentials work
            page = next(iter(client.iter_pages()))
        assert page.events
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Sandbox stopped" in err


# --- the rest of the surface ---------------------------------------------------------------


def test_version_and_help(capsys) -> None:
    code, out, _ = run(capsys, "--version")
    assert (code, out) == (0, f"audit-viewer {__version__}\n")
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("sync", "export", "profile", "sandbox", "exit codes"):
        assert command in out


def test_no_command_opens_the_desktop_app_with_its_own_options(capsys, monkeypatch) -> None:
    """One parser: the window's options on the top level and on `gui`, parsed once."""
    calls: list[tuple[str | None, bool, str | None, int]] = []
    app = types.ModuleType("audit_viewer.app")

    def launch(args):
        calls.append((args.command, args.demo, args.cache, args.verbose))
        return 0

    app.launch = launch  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "audit_viewer.app", app)
    assert cli.main([]) == 0
    assert cli.main(["--demo", "--cache", "x.db"]) == 0
    assert cli.main(["-v", "gui", "--cache", "y.db"]) == 0
    assert calls == [(None, False, None, 0), (None, True, "x.db", 0), ("gui", False, "y.db", 1)]
    assert cli.main(["gui", "--help"]) == 0
    assert "--demo" in capsys.readouterr().out
    assert cli.main(["--no-such-flag"]) == cli.EXIT_USAGE
    assert len(calls) == 3


def test_argument_errors_exit_2(capsys) -> None:
    assert run(capsys, "sync", "--page-size", "0")[0] == cli.EXIT_USAGE
    assert run(capsys, "export")[0] == cli.EXIT_USAGE  # -o is required
    code, _, err = run(capsys, "sync", "--base-url", "https://api.jit.io")
    assert code == cli.EXIT_USAGE and "--client-id" in one_line(err)
