"""The cache refuses what is not one of its files before touching it, on real SQLite files (and
PostgreSQL where it applies, when AUDIT_VIEWER_TEST_PG_URL is set)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from audit_viewer import cli, config
from audit_viewer.api import PlatformClient
from audit_viewer.cache import CacheCorruptError, CacheError, CacheStore, CacheTooNewError
from audit_viewer.cache import store as store_module
from audit_viewer.events import normalize_event
from audit_viewer.sandbox import SandboxServer
from audit_viewer.sync import SyncEngine

OTHER_APPLICATION_ID = 0x47504B47  # "GPKG": a GeoPackage's


def event(event_id: str, description: str = "2 findings ignored"):
    return normalize_event(
        {
            "id": event_id,
            "created_at": "2026-11-02T14:03:11.482Z",
            "actor_type": "user",
            "user_name": "alice",
            "action": "Findings ignored from backlog",
            "description": description,
        }
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def beside(path: Path) -> list[str]:
    """The files in the cache's folder: a refused file gets no -wal or -shm next to it."""
    return sorted(item.name for item in path.parent.iterdir())


def run_sql(path: Path, *statements: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def in_wal_mode(path: Path) -> bool:
    """From the header itself: a read-only connection to a WAL file would leave -wal and -shm."""
    return path.read_bytes()[18] == 2


def application_id(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[68:72], "big")


def make_cache(path: Path, *statements: str) -> None:
    """A real cache with one event, then changed by ``statements``."""
    with CacheStore.open(path) as store:
        store.upsert_events("p", [event("a")])
    run_sql(path, *statements)


@pytest.fixture
def sandbox_env(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    monkeypatch.setenv(config.ENV_SECRET, sandbox.secret)
    return sandbox


def cli_sync(server: SandboxServer, cache: Path, capsys) -> tuple[int, str]:
    code = cli.main(
        ["sync", "--base-url", server.url, "--client-id", server.client_id, "--cache", str(cache)]
    )
    return code, capsys.readouterr().err


# --- whose file is it? ---------------------------------------------------------------------

FOREIGN: dict[str, tuple[Callable[[Path], None], str]] = {
    # Another application migrated with alembic, whose first revision is also called "0001".
    "alembic-app": (
        lambda path: run_sql(
            path,
            "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
            "INSERT INTO alembic_version VALUES ('0001')",
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
            "INSERT INTO customers (name) VALUES ('ACME')",
        ),
        "it holds table customers",
    ),
    "alembic-app-unknown-revision": (
        lambda path: run_sql(
            path,
            "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
            "INSERT INTO alembic_version VALUES ('3f2a9c1b7d4e')",
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)",
        ),
        "its schema revision 3f2a9c1b7d4e is not one of ours",
    ),
    # No table at all, which looked like a new cache to fill.
    "view-and-own-application-id": (
        lambda path: run_sql(
            path,
            f"PRAGMA application_id = {OTHER_APPLICATION_ID}",
            "CREATE VIEW answer AS SELECT 42 AS value",
        ),
        "another application's file: application_id 0x47504b47",
    ),
    "view-only": (
        lambda path: run_sql(path, "CREATE VIEW answer AS SELECT 42 AS value"),
        "it holds view answer",
    ),
    "our-tables-another-application-id": (
        lambda path: make_cache(path, f"PRAGMA application_id = {OTHER_APPLICATION_ID}"),
        "another application's file: application_id 0x47504b47",
    ),
    "our-tables-unmarked-plus-a-trigger": (
        lambda path: make_cache(
            path,
            "PRAGMA application_id = 0",
            "CREATE TRIGGER audit AFTER INSERT ON events BEGIN SELECT 1; END",
        ),
        "it holds trigger audit",
    ),
    "our-tables-unmarked-unknown-revision": (
        lambda path: make_cache(
            path, "PRAGMA application_id = 0", "UPDATE alembic_version SET version_num = '0099'"
        ),
        "its schema revision 0099 is not one of ours",
    ),
    "our-table-names-without-a-revision": (
        lambda path: run_sql(path, "CREATE TABLE events (x)", "CREATE TABLE sync_state (y)"),
        "tables without a schema revision",
    ),
    "revision-0002-without-its-tables": (
        lambda path: make_cache(path, "PRAGMA application_id = 0", "DROP TABLE rejected_events"),
        "not the tables of a cache at schema revision 0002",
    ),
}


@pytest.mark.parametrize("kind", FOREIGN)
def test_another_applications_file_is_refused_before_a_byte_changes(tmp_path, kind):
    make, why = FOREIGN[kind]
    path = tmp_path / "cache.sqlite3"
    make(path)
    wal = in_wal_mode(path)
    before = digest(path)

    with pytest.raises(CacheCorruptError) as caught:
        CacheStore.open(path)

    message = str(caught.value)
    assert message == (
        f"{path} is not an audit-viewer cache ({why}); it was left untouched. "
        "Choose another cache location, or move this file away."
    )
    assert digest(path) == before
    assert beside(path) == ["cache.sqlite3"]
    assert in_wal_mode(path) == wal  # not switched to WAL


def test_a_sync_into_another_applications_file_fails_before_any_request(
    tmp_path, sandbox_env, capsys
):
    path = tmp_path / "geo.gpkg"
    FOREIGN["view-and-own-application-id"][0](path)
    before = digest(path)

    code, err = cli_sync(sandbox_env, path, capsys)

    assert code == cli.EXIT_CACHE
    assert f"{path} is not an audit-viewer cache" in err
    assert digest(path) == before
    assert sandbox_env.stats.logins == sandbox_env.stats.list_requests == 0


def test_new_caches_are_marked_with_the_application_id(tmp_path):
    created = tmp_path / "new.sqlite3"
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    blank = tmp_path / "blank.sqlite3"  # an SQLite database with nothing in it yet
    run_sql(blank, "PRAGMA user_version = 1")
    for path in (created, empty, blank):
        CacheStore.open(path).close()
        assert application_id(path) == store_module.APPLICATION_ID
        assert in_wal_mode(path)


@pytest.mark.parametrize("revision", ["0001", "0002"])
def test_a_cache_from_before_the_mark_is_recognised_migrated_and_marked(tmp_path, revision):
    """Caches written before application_id: their exact tables and revision say they are ours."""
    path = tmp_path / "cache.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        alembic = store_module.alembic_config()
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, revision)
        conn.exec_driver_sql(
            "INSERT INTO events (profile, id, created_at, user, actor_type, action, description,"
            " raw, first_seen_at) VALUES ('p', 'old', 0, 'alice', 'user', 'a', 'd', '{}', 0)"
        )
    engine.dispose()
    assert application_id(path) == 0

    with CacheStore.open(path) as store:
        assert store.count("p") == 1
    assert application_id(path) == store_module.APPLICATION_ID


def test_a_marked_cache_of_a_newer_version_says_so(tmp_path):
    path = tmp_path / "cache.sqlite3"
    make_cache(path, "UPDATE alembic_version SET version_num = '0099'")
    before = digest(path)
    with pytest.raises(CacheTooNewError, match="written by a newer version of audit-viewer"):
        CacheStore.open(path)
    assert digest(path) == before
    assert beside(path) == ["cache.sqlite3"]


def damage_first_page(path: Path) -> None:
    """Scribble over the schema on page 1, past the header (which still says WAL)."""
    data = bytearray(path.read_bytes())
    data[100:16384] = b"\xa5" * (16384 - 100)
    path.write_bytes(bytes(data))


def test_a_damaged_file_is_refused_without_files_left_beside_it(tmp_path):
    path = tmp_path / "cache.sqlite3"
    make_cache(path)
    damage_first_page(path)
    before = digest(path)
    with pytest.raises(CacheCorruptError, match=r"cache.sqlite3 is damaged \(") as caught:
        CacheStore.open(path)
    assert "\n" not in str(caught.value)
    assert digest(path) == before
    assert beside(path) == ["cache.sqlite3"]


# --- where is it? --------------------------------------------------------------------------


@pytest.mark.parametrize("through", ["file", "folder"])
def test_a_path_through_a_dangling_symlink_is_refused_without_creating_folders(tmp_path, through):
    target = tmp_path / "unmounted" / "archive"
    link = tmp_path / "link"
    if through == "file":
        link.symlink_to(target / "cache.sqlite3")
        path = link
    else:
        link.symlink_to(target)
        path = link / "audit" / "cache.sqlite3"

    with pytest.raises(CacheError) as caught:
        CacheStore.open(path)

    assert str(caught.value) == (
        f"The cache {path} is behind the symbolic link {link}, whose target "
        f"{link.readlink()} does not exist; create it or choose another location."
    )
    assert not (tmp_path / "unmounted").exists()
    assert sorted(tmp_path.iterdir()) == [link]


def test_a_symlink_to_an_existing_cache_opens_the_cache(tmp_path):
    real = tmp_path / "real.sqlite3"
    make_cache(real)
    link = tmp_path / "link.sqlite3"
    link.symlink_to(real)
    with CacheStore.open(link) as store:
        assert store.count("p") == 1
        assert store.location == str(real)


# --- may it be written? --------------------------------------------------------------------


def client_for(server: SandboxServer) -> PlatformClient:
    return PlatformClient(server.url, server.client_id, server.secret, max_requests_per_second=1000)


def assert_no_request(server: SandboxServer) -> None:
    assert server.stats.logins == server.stats.list_requests == 0


def deny_writes(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """Permissions as a user who may not write ``denied`` would see them (root may write
    anything, so read-only files and folders say nothing about what it may do)."""
    access = os.access

    def fake_access(path: str | os.PathLike[str], mode: int, **kwargs: object) -> bool:
        if mode & os.W_OK and Path(path) == denied:
            return False
        return access(path, mode, **kwargs)

    monkeypatch.setattr(os, "access", fake_access)


@pytest.fixture(params=["chmod", "as-seen-by-a-user"])
def read_only_folder(request, tmp_path, monkeypatch) -> Path:
    """A folder holding a cache with one event, which this process may not write into."""
    folder = tmp_path / "archive"
    folder.mkdir()
    make_cache(folder / "cache.sqlite3")
    if request.param == "chmod":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders all the same")
        folder.chmod(0o555)
        request.addfinalizer(lambda: folder.chmod(0o755))
    else:
        deny_writes(monkeypatch, folder)
    return folder


def test_a_cache_in_a_read_only_folder_can_be_viewed_and_exported(read_only_folder, capsys):
    path = read_only_folder / "cache.sqlite3"
    before = digest(path)

    with CacheStore.open_for_reading(path) as store:
        assert store.read_only
        assert store.load_frame("p")["id"].tolist() == ["a"]
        assert store.profiles() == ["p"]
    code = cli.main(["export", "-o", "-", "--cache", str(path)])
    out, err = capsys.readouterr()

    assert code == 0, err
    assert out.splitlines()[1].startswith("a,")
    assert digest(path) == before
    assert beside(path) == ["cache.sqlite3"]  # read as immutable: no -wal or -shm


def test_syncing_a_cache_in_a_read_only_folder_fails_before_any_request(
    read_only_folder, sandbox_env, capsys
):
    path = read_only_folder / "cache.sqlite3"
    before = digest(path)
    code, err = cli_sync(sandbox_env, path, capsys)
    assert code == cli.EXIT_CACHE
    assert err.strip() == (
        f"audit-viewer: error: The cache {path} cannot be written (its folder "
        f"{read_only_folder} is read-only); syncing needs write access to {path}."
    )
    assert_no_request(sandbox_env)
    assert digest(path) == before


@pytest.mark.parametrize("how", ["chmod-0444", "as-seen-by-a-user"])
def test_a_read_only_cache_file_fails_a_sync_before_any_request(
    tmp_path, sandbox_env, capsys, monkeypatch, how
):
    path = tmp_path / "cache.sqlite3"
    make_cache(path)
    if how == "chmod-0444":
        if os.geteuid() == 0:
            pytest.skip("root writes read-only files all the same")
        path.chmod(0o444)
    else:
        deny_writes(monkeypatch, path)
    before = digest(path)
    code, err = cli_sync(sandbox_env, path, capsys)
    assert code == cli.EXIT_CACHE
    assert err.strip() == (
        f"audit-viewer: error: The cache {path} cannot be written (the file is read-only); "
        f"syncing needs write access to {path}."
    )
    assert_no_request(sandbox_env)
    assert digest(path) == before


def test_a_read_only_store_never_writes_and_a_sync_into_it_sends_nothing(
    cache_url, sandbox, tmp_path
):
    with CacheStore.open(cache_url) as store:
        store.upsert_events("p", [event("a")])
    file = Path(sa.make_url(cache_url).database or "")
    before = digest(file) if cache_url.startswith("sqlite") else None

    with CacheStore.open(cache_url, read_only=True) as store, client_for(sandbox) as client:
        assert store.read_only
        assert store.count("p") == 1
        assert store.load_frame("p")["id"].tolist() == ["a"]
        with pytest.raises(CacheError) as caught:
            SyncEngine(client, store, "p").run()
        assert str(caught.value) == (
            f"The cache {store.location} cannot be written (it was opened read-only); "
            f"syncing needs write access to {store.location}."
        )
        with pytest.raises(CacheError, match="opened read-only"):
            store.upsert_events("p", [event("b")])
        assert store.sync_state("p").last_outcome is None  # nothing recorded either
    assert_no_request(sandbox)
    if before is not None:
        assert digest(file) == before


def test_read_only_opens_need_a_cache_at_this_versions_schema(tmp_path):
    missing = tmp_path / "missing.sqlite3"
    with pytest.raises(CacheError) as caught:
        CacheStore.open(missing, read_only=True)
    assert str(caught.value) == f"There is no cache at {missing} yet; the first sync creates it."
    assert not missing.exists()

    old = tmp_path / "old.sqlite3"
    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        alembic = store_module.alembic_config()
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, "0001")
    engine.dispose()
    before = digest(old)
    with pytest.raises(CacheError) as caught:
        CacheStore.open(old, read_only=True)
    assert str(caught.value) == (
        f"The cache {old} has schema revision 0001, older than this version's 0002; "
        f"upgrading it needs write access to {old}."
    )
    assert digest(old) == before
    with CacheStore.open_for_reading(old) as store:  # where it may, reading migrates first
        assert not store.read_only
        assert store.count("p") == 0


postgres_only = pytest.mark.parametrize("cache_url", ["postgres"], indirect=True)


@postgres_only
def test_a_read_only_postgresql_session_fails_a_sync_before_any_request(cache_url, sandbox):
    CacheStore.open(cache_url).close()  # created and migrated
    read_only = sa.make_url(cache_url).update_query_dict(
        {"options": "-c default_transaction_read_only=on"}
    )
    with (
        CacheStore.open(read_only.render_as_string(hide_password=False)) as store,
        client_for(sandbox) as client,
        pytest.raises(CacheError) as caught,
    ):
        SyncEngine(client, store, "p").run()
    assert str(caught.value) == (
        f"The cache {store.location} cannot be written (cannot execute UPDATE in a read-only "
        f"transaction); syncing needs write access to {store.location}."
    )
    assert_no_request(sandbox)


# --- what the admin reads when the database refuses --------------------------------------

SECRET_DESCRIPTION = "Password reset for the CFO, token 7Hq2-secret"


def refuse_inserts(cache_url: str, *, errcode: str) -> None:
    """A trigger that makes the database refuse every new event (PostgreSQL's quotes it)."""
    engine = sa.create_engine(cache_url)
    with engine.begin() as conn:
        if cache_url.startswith("sqlite"):
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON events "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"RAISE EXCEPTION 'refused: %%', NEW.description USING ERRCODE = '{errcode}', "
                "DETAIL = 'the row: ' || NEW.raw; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON events "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
    engine.dispose()


def test_a_refused_statement_is_one_line_without_sql_or_event_contents(cache_url, caplog):
    CacheStore.open(cache_url).close()
    refuse_inserts(cache_url, errcode="check_violation")
    row = event("x", SECRET_DESCRIPTION)
    with CacheStore.open(cache_url) as store, caplog.at_level("INFO", "audit_viewer"):
        with pytest.raises(CacheError) as caught:
            store.upsert_events("p", [row])
        assert store.count("p") == 0

    message = str(caught.value)
    kind = (
        "IntegrityError SQLITE_CONSTRAINT_TRIGGER"
        if "sqlite" in cache_url
        else ("CheckViolation 23514")
    )
    assert message == (
        f"The cache {store.location} cannot be used: unexpected database error ({kind}); "
        "the log has the details."
    )
    assert "7Hq2" not in message and "INSERT" not in message
    logged = caplog.text
    assert f"Error from the cache {store.location}" in logged
    assert "7Hq2-secret" in logged and "INSERT INTO events" in logged  # the whole of it


def test_a_full_disk_says_so_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "cache.sqlite3"
    with CacheStore.open(path) as store:
        store.upsert_events("p", [event("first")])
        # The file may not grow beyond its current pages: what a full disk does to SQLite.
        store._engine.dispose()
        sa.event.listen(
            store._engine,
            "connect",
            lambda dbapi, _record: dbapi.execute(
                f"PRAGMA max_page_count = {dbapi.execute('PRAGMA page_count').fetchone()[0]}"
            ),
        )
        many = [event(f"e{n}", "x" * 2000) for n in range(200)]
        with pytest.raises(CacheError) as caught:
            store.upsert_events("p", many)
        assert store.count("p") == 1
    assert str(caught.value) == (
        f"The disk holding the cache {path} is full; free space and sync again (nothing was lost)."
    )


@postgres_only
def test_a_full_disk_on_the_postgresql_server_says_so(cache_url):
    CacheStore.open(cache_url).close()
    refuse_inserts(cache_url, errcode="disk_full")
    with CacheStore.open(cache_url) as store, pytest.raises(CacheError) as caught:
        store.upsert_events("p", [event("x")])
    assert str(caught.value) == (
        f"The disk holding the cache {store.location} is full; free space and sync again "
        "(nothing was lost)."
    )
    assert "secret" not in store.location  # the password stays masked
