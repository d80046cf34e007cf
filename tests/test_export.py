"""CSV export: what a spreadsheet or another CSV reader gets, and what a failure leaves behind."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from audit_viewer import export
from audit_viewer.export import CSV_COLUMNS, ExportCancelled, ExportError, write_csv

STRING = pd.StringDtype("pyarrow")
HEADER = list(CSV_COLUMNS)
HOSTILE = [
    "plain",
    "comma, inside",
    'a "quoted" word',
    '"',
    "line one\nline two",
    "windows\r\nline",
    "lone\rCR",
    "trailing newline\n",
    "emoji 👩\u200d💻 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "עברית \u202ereversed\u202c",
    "=1+1",
    "=cmd|' /C calc'!A0",
    "+1",
    "-2",
    "@SUM(A1:A2)",
    "\tTabbed",
    "\rCarriage",
    '=HYPERLINK("http://x", "click, me")',
    " leading space",
    "",
    "ends with =",
    "x" * 20_000,
]


def make_frame(n: int, start: int = 0) -> pd.DataFrame:
    """``n`` events whose text cells cycle through :data:`HOSTILE`."""
    cells = [HOSTILE[(start + i) % len(HOSTILE)] for i in range(n)]
    created = [
        datetime(2026, 11, 2, 14, 3, 11, 482999, tzinfo=UTC) - timedelta(seconds=i)
        for i in range(start, start + n)
    ]
    frame = pd.DataFrame(
        {
            "id": [f"-{c[:5]}-{start + i}" for i, c in enumerate(cells)],
            "created_at": pd.Series(created, dtype="datetime64[ns, UTC]"),
            "user": cells,
            "user_name": [None if i % 2 else c for i, c in enumerate(cells)],
            "user_email": [None if i % 3 == 0 else c for i, c in enumerate(cells)],
            "actor_type": ["user"] * n,
            "action": list(reversed(cells)),
            "description": cells,
            "flags": ["time" if i % 7 == 3 else "" for i in range(n)],
            "raw": ["{}"] * n,
        }
    )
    text = ("id", "user", "user_name", "user_email", "actor_type", "action", "description")
    for name in (*text, "flags"):
        frame[name] = frame[name].astype(STRING)
    return frame


def expected_rows(frame: pd.DataFrame, guard: bool) -> list[list[str]]:
    def cell(value: object) -> str:
        text = "" if value is None or value is pd.NA else str(value)
        if guard and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + text
        return text

    out = []
    for row in frame.itertuples(index=False):
        stamp = row.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        values = [row.id, stamp, row.user, row.user_name, row.user_email, row.actor_type]
        values += [row.action, row.description, row.flags]
        out.append([cell(v) if i != 1 else v for i, v in enumerate(values)])
    return out


def read_back(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


# --- content --------------------------------------------------------------------------------


def test_round_trip_with_hostile_cells(tmp_path: Path) -> None:
    frame = make_frame(len(HOSTILE) * 2)
    target = tmp_path / "out.csv"
    assert write_csv([frame], target) == len(frame)
    lines = read_back(target)
    assert lines[0] == HEADER
    assert lines[1:] == expected_rows(frame, guard=True)
    assert lines[1][1] == "2026-11-02T14:03:11.482Z"  # ISO 8601 UTC, milliseconds, truncated


def test_formula_guard_prefixes_only_dangerous_cells(tmp_path: Path) -> None:
    frame = make_frame(len(HOSTILE))
    target = tmp_path / "out.csv"
    write_csv([frame], target)
    descriptions = [row[6] for row in read_back(target)[1:]]
    assert "'=1+1" in descriptions and "'+1" in descriptions and "'-2" in descriptions
    assert "'@SUM(A1:A2)" in descriptions and "'\tTabbed" in descriptions
    assert "'\rCarriage" in descriptions
    assert "ends with =" in descriptions and " leading space" in descriptions
    assert all(row[1][0].isdigit() for row in read_back(target)[1:])  # timestamps untouched


def test_guard_off_keeps_cells_verbatim(tmp_path: Path) -> None:
    frame = make_frame(len(HOSTILE))
    target = tmp_path / "out.csv"
    write_csv([frame], target, formula_guard=False)
    assert read_back(target)[1:] == expected_rows(frame, guard=False)


@pytest.mark.parametrize("guard", [True, False])
def test_bytes_equal_the_csv_module_with_minimal_quoting(tmp_path: Path, guard: bool) -> None:
    frame = make_frame(200)
    target = tmp_path / "out.csv"
    write_csv([frame], target, formula_guard=guard)
    reference = io.StringIO(newline="")
    writer = csv.writer(reference, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(expected_rows(frame, guard))
    assert target.read_bytes() == reference.getvalue().encode("utf-8")


def test_bom_for_excel(tmp_path: Path) -> None:
    frame = make_frame(5)
    with_bom, without = tmp_path / "bom.csv", tmp_path / "plain.csv"
    write_csv([frame], with_bom, bom=True)
    write_csv([frame], without)
    assert with_bom.read_bytes() == b"\xef\xbb\xbf" + without.read_bytes()
    assert without.read_bytes().startswith(b"id,created_at,")
    assert read_back(with_bom, encoding="utf-8-sig") == read_back(without)


def test_chunks_and_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK_ROWS", 7)
    frames = [make_frame(20, 0), make_frame(0, 20), make_frame(3, 20), make_frame(14, 23)]
    seen: list[int] = []
    target = tmp_path / "out.csv"
    assert write_csv(iter(frames), target, progress=seen.append) == 37
    assert seen == [7, 14, 20, 23, 30, 37]
    expected = [row for frame in frames for row in expected_rows(frame, guard=True)]
    assert read_back(target)[1:] == expected


def test_a_single_frame_and_other_dtypes(tmp_path: Path) -> None:
    frame = make_frame(30)
    plain = frame.astype({"user": object, "description": "string[python]", "action": str})
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(frame, first)  # a DataFrame, not a list of them
    write_csv([plain], second)
    assert first.read_bytes() == second.read_bytes()


def test_no_rows_writes_the_header(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    assert write_csv([], target) == 0
    assert target.read_bytes() == (
        b"id,created_at,user,user_name,user_email,actor_type,action,description,flags\r\n"
    )
    assert write_csv([make_frame(0)], target) == 0


def test_new_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "out.csv"
    write_csv([make_frame(2)], target)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_replaces_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old content that is longer than the new one " * 1000)
    write_csv([make_frame(1)], target)
    assert read_back(target)[1:] == expected_rows(make_frame(1), guard=True)
    assert leftovers(tmp_path) == []


def test_missing_column_is_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="user_email"):
        write_csv([make_frame(2).drop(columns=["user_email"])], tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


# --- streams ---------------------------------------------------------------------------------


def test_text_stream_target(tmp_path: Path) -> None:
    frame = make_frame(40)
    write_csv([frame], tmp_path / "out.csv", bom=True)
    stream = io.StringIO(newline="")
    assert write_csv([frame], stream, bom=True) == 40
    assert stream.getvalue().encode("utf-8") == (tmp_path / "out.csv").read_bytes()


def test_dash_writes_bytes_to_stdout(tmp_path: Path, capsysbinary: pytest.CaptureFixture) -> None:
    frame = make_frame(40)
    write_csv([frame], tmp_path / "out.csv")
    assert write_csv([frame], "-") == 40
    assert capsysbinary.readouterr().out == (tmp_path / "out.csv").read_bytes()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_disk_full_on_a_stream_is_an_export_error() -> None:
    stream = open("/dev/full", "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        with pytest.raises(ExportError) as caught:
            write_csv([make_frame(2000)], stream)
        assert str(caught.value) == "Could not write /dev/full: the disk is full"
    finally:
        with contextlib.suppress(OSError):  # what is still buffered cannot be flushed either
            stream.close()


# --- failures leave nothing behind ---------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "out.csv"
    with pytest.raises(ExportError) as caught:
        write_csv([make_frame(3)], target)
    assert str(caught.value) == f"Could not write {target}: No such file or directory"
    assert not (tmp_path / "no").exists()


def test_target_is_a_directory(tmp_path: Path) -> None:
    target = tmp_path / "existing"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    with pytest.raises(ExportError) as caught:
        write_csv([make_frame(3)], target)
    assert str(caught.value) == f"Could not write {target}: it is a folder"
    assert (target / "keep.txt").read_text() == "keep"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_permission_denied_names_the_file() -> None:
    """sysfs refuses new files even to root, so this runs in containers too."""
    target = Path("/sys/kernel/audit-log.csv")
    with pytest.raises(ExportError, match=f"^Could not write {target}: "):
        write_csv([make_frame(3)], target)
    assert not target.exists()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
def test_read_only_directory(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / "out.csv"
    target.write_text("previous export")
    folder.chmod(0o555)
    try:
        with pytest.raises(ExportError, match="Permission denied"):
            write_csv([make_frame(3)], target)
        assert target.read_text() == "previous export"
        assert leftovers(folder) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(sys.platform != "linux", reason="uses RLIMIT_FSIZE")
def test_file_size_limit_mid_export_keeps_the_old_file(tmp_path: Path) -> None:
    """A write that fails half way (here: the process may not write more than 64 KB) leaves the
    previous file as it was and no temporary file; RLIMIT_FSIZE fails writes for real, the way a
    full disk does, without needing a small filesystem."""
    target = tmp_path / "out.csv"
    target.write_text("previous export")
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_export import make_frame
        from audit_viewer.export import ExportError, write_csv
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
        try:
            write_csv([make_frame(5000)], {str(target)!r})
        except ExportError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == f"Could not write {target}: File too large"
    assert target.read_text() == "previous export"
    assert leftovers(tmp_path) == []


def test_error_in_the_frames_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous export")

    def frames():
        yield make_frame(10)
        raise RuntimeError("cache went away")

    with pytest.raises(RuntimeError, match="cache went away"):
        write_csv(frames(), target)
    assert target.read_text() == "previous export"
    assert leftovers(tmp_path) == []


def test_cancel_mid_export_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK_ROWS", 10)
    cancel = threading.Event()
    target = tmp_path / "out.csv"
    seen: list[int] = []

    def progress(rows: int) -> None:
        seen.append(rows)
        cancel.set()

    with pytest.raises(ExportCancelled):
        write_csv([make_frame(50)], target, progress=progress, cancel=cancel)
    assert seen == [10]
    assert list(tmp_path.iterdir()) == []


def test_cancel_keeps_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("previous export")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExportCancelled):
        write_csv([make_frame(5)], target, cancel=cancel)
    assert target.read_text() == "previous export"
    assert leftovers(tmp_path) == []


# --- what is at the path decides how it is written -----------------------------------------


def test_replacing_a_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "private.csv"
    target.write_text("previous export")
    target.chmod(0o600)
    write_csv([make_frame(3)], target)
    assert target.stat().st_mode & 0o777 == 0o600
    assert read_back(target)[1:] == expected_rows(make_frame(3), guard=True)


def test_a_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    real = tmp_path / "exports" / "latest.csv"
    real.write_text("previous export")
    link = tmp_path / "audit.csv"
    link.symlink_to(Path("exports") / "latest.csv")  # relative, as `ln -s` makes them
    write_csv([make_frame(4)], link)
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("exports", "latest.csv")
    assert read_back(real)[1:] == expected_rows(make_frame(4), guard=True)
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "exports") == []


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "audit.csv"
    link.symlink_to(tmp_path / "not-yet.csv")
    write_csv([make_frame(2)], link)
    assert link.is_symlink()
    assert read_back(tmp_path / "not-yet.csv")[1:] == expected_rows(make_frame(2), guard=True)


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_dev_null_stays_a_device() -> None:
    """Renaming a temporary file over /dev/null would, as root, replace the system's."""
    before = os.stat("/dev/null")
    assert write_csv([make_frame(500)], Path("/dev/null")) == 500
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert [p for p in os.listdir("/dev") if p.endswith(".part")] == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_dev_full_as_a_path_says_the_disk_is_full() -> None:
    with pytest.raises(ExportError) as caught:
        write_csv([make_frame(2000)], Path("/dev/full"))
    assert str(caught.value) == "Could not write /dev/full: the disk is full"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    assert [p for p in os.listdir("/dev") if p.endswith(".part")] == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifos_reader_gets_the_whole_csv(tmp_path: Path) -> None:
    frame = make_frame(3000)
    write_csv([frame], tmp_path / "file.csv")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    try:
        assert write_csv([frame], fifo) == 3000
    finally:
        reader.join(timeout=60)
    assert received == [(tmp_path / "file.csv").read_bytes()]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs Unix sockets")
def test_a_socket_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(ExportError) as caught:
            write_csv([make_frame(2)], path)
    assert str(caught.value) == f"Could not write {path}: it is a socket"
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert leftovers(tmp_path) == []


def test_a_loop_of_links_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ExportError, match=f"^Could not write {tmp_path / 'a'}: "):
        write_csv([make_frame(2)], tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


# --- JSON Lines -----------------------------------------------------------------------------


def test_json_lines_write_each_text_on_its_own_line(tmp_path: Path) -> None:
    texts = [['{"id":"a","n":1}', '{"id":"b","s":"ü ☃"}'], [], ['{"id":"c"}']]
    target = tmp_path / "out.jsonl"
    assert export.write_jsonl(texts, target) == 3
    assert target.read_bytes() == '{"id":"a","n":1}\n{"id":"b","s":"ü ☃"}\n{"id":"c"}\n'.encode()
    assert leftovers(tmp_path) == []


def test_json_lines_cancel_keeps_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous export")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExportCancelled):
        export.write_jsonl([['{"id":"a"}']], target, cancel=cancel)
    assert target.read_text() == "previous export"
