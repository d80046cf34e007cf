"""Reading the events table into Arrow columns: the frame's way out of the cache.

Kept apart from :mod:`audit_viewer.cache.store` so that what only writes the cache (a sync)
never loads pyarrow, pandas or the ADBC driver: together they are most of a second of start-up.
"""

from __future__ import annotations

import gc
from typing import Any

import adbc_driver_manager
import adbc_driver_sqlite
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite as sqlite_dialect

from audit_viewer.cache.schema import events
from audit_viewer.events import FRAME_COLUMNS, KNOWN_FIELDS
from audit_viewer.frame import ARROW_SCHEMA

_FETCH_ROWS = 100_000  # rows per Arrow record batch while loading; bounds the Python objects alive
# Rows as they come off the cursor; 32-bit string offsets (widened per batch afterwards)
# because pyarrow builds those from Python objects much faster than large_string.
_ROW_TYPE = pa.struct(
    [(name, pa.int64() if name == "created_at" else pa.string()) for name in FRAME_COLUMNS]
)
# The ADBC SQLite driver types each result column after the values of its first batch, so a
# column whose first rows are all NULL would come out as int64 and fail at its first text.
# Nullable columns are therefore read as text that is never NULL plus an is-NULL flag column.
_NULLABLE = tuple(name for name in FRAME_COLUMNS if events.c[name].nullable)
# The raw JSON repeats every frame column (the description twice over); the frame only needs
# the fields beyond them, which is a tenth of the text: a million events then fit in half the
# memory. SQLite strips the known fields itself (valid JSON only, numbers kept verbatim); the
# whole text stays in the cache for the detail pane (event_json).
_EXTRA_FIELDS_ONLY = sa.case(
    (
        sa.func.json_valid(events.c.raw),
        sa.func.json_remove(events.c.raw, *(f'$."{name}"' for name in sorted(KNOWN_FIELDS))),
    ),
    else_=events.c.raw,
).label("raw")


def _arrow_select(raw: Any) -> list[Any]:
    return [
        sa.func.coalesce(events.c[name], "").label(name)
        if name in _NULLABLE
        else raw
        if name == "raw"
        else events.c[name]
        for name in FRAME_COLUMNS
    ] + [events.c[name].is_(None).label(f"{name}_is_null") for name in _NULLABLE]


_ARROW_SELECT = _arrow_select(_EXTRA_FIELDS_ONLY)
#: For exports of whole events (JSON Lines): ``raw`` as stored.
_ARROW_SELECT_WHOLE = _arrow_select(events.c.raw)


def fetch_table(conn: sa.Connection, query: sa.Select[Any]) -> pa.Table:
    """Run ``query`` (columns in FRAME_COLUMNS order) into one Arrow table, through the DBAPI.

    Straight off the DBAPI cursor, a batch at a time into Arrow columns: no SQLAlchemy Row and
    no Python object per value outlives its batch. The cyclic garbage collector is paused
    meanwhile, since it would otherwise rescan the batch's hundred thousand fresh tuples over
    and over although none of them can be part of a cycle.
    """
    compiled = query.compile(dialect=conn.dialect)
    params: Any = compiled.params
    if compiled.positional:
        params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    # PostgreSQL: a server-side cursor, so the server streams instead of the driver buffering.
    named = {"name": "audit_viewer_frame"} if conn.dialect.name == "postgresql" else {}
    cursor = dbapi_connection.cursor(**named)
    batches = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        cursor.execute(str(compiled), params)
        while rows := cursor.fetchmany(_FETCH_ROWS):
            # One C pass over the row tuples into a struct array, then its fields as columns.
            record = pa.array(rows, type=_ROW_TYPE)
            del rows
            batches.append(
                pa.RecordBatch.from_arrays(
                    [
                        column.cast(pa.timestamp("us", tz="UTC")).cast(field.type)
                        if field.name == "created_at"
                        else column.cast(field.type)
                        for field, column in zip(ARROW_SCHEMA, record.flatten(), strict=True)
                    ],
                    schema=ARROW_SCHEMA,
                )
            )
    finally:
        cursor.close()
        if collecting:
            gc.enable()
    # Left in chunks of _FETCH_ROWS: pandas' Arrow-backed columns are chunked anyway, and
    # combining would copy every text column once more.
    return pa.Table.from_batches(batches, ARROW_SCHEMA)


def fetch_arrow(
    uri: str, query: sa.Select[Any], busy_timeout_ms: int, *, whole_json: bool = False
) -> pa.Table:
    """Run ``query`` (``_FRAME_SELECT`` columns) on the SQLite file at ``uri`` with ADBC.

    A connection of its own for the one statement: in WAL mode it reads a consistent snapshot
    and neither holds up a sync writing meanwhile nor waits for it.
    """
    select = _ARROW_SELECT_WHOLE if whole_json else _ARROW_SELECT
    compiled = query.with_only_columns(*select).compile(dialect=sqlite_dialect.dialect())
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    with (
        adbc_driver_sqlite.connect(uri) as database,
        adbc_driver_manager.AdbcConnection(database) as connection,
    ):
        with adbc_driver_manager.AdbcStatement(connection) as pragma:
            # As the SQLAlchemy connections: wait out a writer's rare exclusive moments (WAL
            # recovery after a crash, the last connection removing the WAL) instead of failing.
            pragma.set_sql_query(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            pragma.execute_update()
        with adbc_driver_manager.AdbcStatement(connection) as statement:
            rows = adbc_driver_sqlite.StatementOptions.BATCH_ROWS.value
            statement.set_options(**{rows: str(_FETCH_ROWS)})
            statement.set_sql_query(str(compiled))
            if params:
                names = [str(i) for i in range(len(params))]
                statement.bind(pa.record_batch([pa.array([v]) for v in params], names=names))
            stream, _count = statement.execute_query()
            fetched = pa.RecordBatchReader.from_stream(stream).read_all()
    if fetched.num_rows == 0:  # no first batch to type the columns after
        return ARROW_SCHEMA.empty_table()
    values, flags = fetched.columns[: len(FRAME_COLUMNS)], fetched.columns[len(FRAME_COLUMNS) :]
    is_null = dict(zip(_NULLABLE, flags, strict=True))
    arrays = []
    for name, column in zip(FRAME_COLUMNS, values, strict=True):
        if name == "created_at":  # epoch microseconds
            column = column.cast(pa.timestamp("us", tz="UTC"))
        elif name in is_null:
            missing = is_null[name].cast(pa.bool_())
            column = pc.if_else(missing, pa.scalar(None, column.type), column)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=list(FRAME_COLUMNS)).cast(ARROW_SCHEMA)
