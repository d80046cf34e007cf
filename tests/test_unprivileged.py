"""Read-only files and folders as an ordinary user meets them, when the tests run as root.

Root may write anything, so the chmod tests of test_cache_guard and test_export skip under it
(as in this project's CI container). These run the same cases for real: a child interpreter
loads the app as root, then drops to the unprivileged user ``nobody`` (setuid, which no
privilege can undo) and runs the command line, so the kernel itself refuses the writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cache_guard import digest, make_cache

from audit_viewer import cli, config
from audit_viewer.sandbox import SandboxServer

pytestmark = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="not root: the chmod tests of test_cache_guard and test_export run instead",
)
NOBODY = 65534

#: Loaded before privileges are dropped: the interpreter's own files may be out of reach after.
CHILD = textwrap.dedent(
    """
    import contextlib, io, json, os, sys
    import adbc_driver_sqlite, keyring.backends.fail, sqlalchemy.dialects.sqlite
    import audit_viewer.api, audit_viewer.cache.columnar, audit_viewer.export
    import audit_viewer.frame, audit_viewer.query, audit_viewer.sync
    from audit_viewer import cli
    os.setgroups([])
    os.setgid({uid})
    os.setuid({uid})
    results = []
    for argv in json.loads(sys.argv[1]):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
        results.append([code, out.getvalue(), err.getvalue()])
    print(json.dumps(results))
    """
).format(uid=NOBODY)


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's own is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="audit-viewer-nobody-"))
    folder.chmod(0o755)
    home = folder / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    yield folder
    for path in folder.rglob("*"):
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    subprocess.run(["rm", "-rf", str(folder)], check=True)


def as_nobody(place: Path, server: SandboxServer, *commands: list[str]) -> list[list]:
    env = dict(os.environ, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.update({config.ENV_HOME: str(place / "home"), config.ENV_SECRET: server.secret})
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(list(commands))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=place,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sync(server: SandboxServer, cache: Path) -> list[str]:
    return [
        "sync",
        "--base-url",
        server.url,
        "--client-id",
        server.client_id,
        "--cache",
        str(cache),
    ]


def test_a_read_only_folder_and_file_as_an_ordinary_user(place: Path) -> None:
    archive = place / "archive"
    archive.mkdir()
    folder_cache = archive / "cache.sqlite3"
    make_cache(folder_cache)
    os.chown(folder_cache, NOBODY, NOBODY)  # a file nobody may write, in a folder it may not
    os.chown(archive, NOBODY, NOBODY)
    archive.chmod(0o555)  # the folder: nobody may create -wal, -shm or the temporary file
    file_cache = place / "own.sqlite3"
    make_cache(file_cache)
    os.chown(file_cache, NOBODY, NOBODY)
    file_cache.chmod(0o444)  # the file: nobody's own, but read-only
    exports = place / "exports"
    exports.mkdir()
    previous = exports / "audit.csv"
    previous.write_text("previous export")
    os.chown(exports, NOBODY, NOBODY)
    exports.chmod(0o555)
    before = {path: digest(path) for path in (folder_cache, file_cache)}

    with SandboxServer(events=20, seed=5) as server:
        view, sync_folder, sync_file, export = as_nobody(
            place,
            server,
            ["export", "-o", "-", "--cache", str(folder_cache)],
            sync(server, folder_cache),
            sync(server, file_cache),
            ["export", "-o", str(previous), "--cache", str(file_cache)],
        )
        assert server.stats.logins == server.stats.list_requests == 0  # refused before asking

    code, out, err = view  # viewing and exporting need no write access
    assert (code, err) == (0, "Exported 1 event to standard output\n")
    assert out.splitlines()[1].startswith("a,")
    assert sorted(p.name for p in archive.iterdir()) == ["cache.sqlite3"]  # no -wal, no -shm

    code, _out, err = sync_folder
    assert code == cli.EXIT_CACHE
    assert err == (
        f"audit-viewer: error: The cache {folder_cache} cannot be written (its folder {archive} "
        f"is read-only); syncing needs write access to {folder_cache}.\n"
    )
    code, _out, err = sync_file
    assert code == cli.EXIT_CACHE
    assert err == (
        f"audit-viewer: error: The cache {file_cache} cannot be written (the file is "
        f"read-only); syncing needs write access to {file_cache}.\n"
    )
    code, _out, err = export
    assert code == cli.EXIT_EXPORT
    assert err == f"audit-viewer: error: Could not write {previous}: Permission denied\n"
    assert previous.read_text() == "previous export"
    assert sorted(p.name for p in exports.iterdir()) == ["audit.csv"]  # no .part left
    assert {path: digest(path) for path in before} == before
