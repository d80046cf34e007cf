"""A synthetic, deterministic events frame in the frame contract, built fast enough for 1M rows.

Benchmarks and tests need realistic frames without a server or a cache: the same seed gives the
same frame, a million rows take about a second, and the text looks like the platform's (every
contract action, user/scm/system actors, ``Key: 'value'`` descriptions, hostile cells, Unicode).
Everything is built with numpy/pyarrow over whole columns, never row by row in Python.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit_viewer.cache import CacheStore
from audit_viewer.events import ACTOR_TYPES, FRAME_COLUMNS, EventRow

#: The instant the synthetic window ends at; pass it as ``now`` to relative-time queries.
SYNTHETIC_NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)

_STRING = pd.StringDtype("pyarrow")
_CROCKFORD = np.frombuffer(b"0123456789ABCDEFGHJKMNPQRSTVWXYZ", dtype=np.uint8)
_FIRST = ["Alice", "Bob", "Carol", "Dmitri", "Eve", "François", "Grace", "Hiroshi", "Ingrid",
          "José", "Kwame", "Li", "Mehmet", "Nadia", "Olga", "Priya", "Quentin", "Rania", "Søren",
          "Tomás", "Uma", "Viktor", "Wen", "Xavier", "Yara", "Zoë"]  # fmt: skip
_LAST = ["Smith", "Jones", "García", "Müller", "Nakamura", "O'Brien", "Kowalski", "Haddad",
         "Andersson", "Okafor", "Ivanova", "Chen", "Rossi", "Dubois", "Cohen"]  # fmt: skip
_ACTIONS = [
    ("Findings ignored from backlog", 18), ("Findings ignored from PR", 10),
    ("Export Security Plan results", 3), ("Ticket created", 12), ("Export SBOM", 4),
    ("Export SBOM failure", 1), ("Export Findings", 3), ("User logged in", 30),
    ("Removed user bob@example.com from account", 1), ("Assigned roles", 4), ("Removed roles", 2),
    ("Added user", 3), ("Created API key", 2), ("Deleted API key", 1), ("Updated profile", 6),
]  # fmt: skip
_REASONS = ["false_positive", "accepted_risk", "not_relevant", "compensating_control"]
_COMMENTS = [
    "Not relevant findings", "Test code only", "Fixed upstream, waiting for release",
    'Vendor says "won\'t fix"', "Reviewed with security, see ticket", "Łódź office — legacy",
    "مراجعة الأمان", "重复的发现", "🔥 hotfix, ok per CISO", "temp, revisit in Q1, thanks",
]  # fmt: skip
_HOSTILE = [
    "=cmd|' /C calc'!A0", "+1+2", "-2", "@SUM(1+1)", "\tTabbed start", "\rCarriage start",
    'Quoted "value", with comma', "multi\nline\r\ndescription", "עברית RTL text ‮reversed‬",
    "emoji 👩‍💻 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "", "Reason: 'it''s complicated', Comment: 'a \\'quoted\\' word'",
]  # fmt: skip


def _choice(rng: np.random.Generator, pool, n: int, weights=None) -> np.ndarray:
    p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
    return rng.choice(len(pool), size=n, p=p)


def _take(pool: list[str | None], idx: np.ndarray) -> pa.Array:
    return pa.array(pool, type=pa.large_string()).take(pa.array(idx))


def _base32(values: np.ndarray, width: int) -> np.ndarray:
    """Unsigned ints -> fixed-width Crockford base32 digits, as a (n, width) uint8 matrix."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(5)
    digits = (values.astype(np.uint64)[:, None] >> shifts) & np.uint64(31)
    return _CROCKFORD[digits]


def _ids(rng: np.random.Generator, millis: np.ndarray) -> pa.Array:
    """ULID-like ids: 10 chars of time, 6 of the row number (so they are unique), 10 random."""
    n = len(millis)
    rand = rng.integers(0, 2**50, size=n, dtype=np.uint64)
    chars = np.hstack(
        [_base32(millis, 10), _base32(np.arange(n, dtype=np.uint64), 6), _base32(rand, 10)]
    )
    offsets = np.arange(0, 26 * n + 1, 26, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(chars).tobytes())
    )


def _json_field(values: pa.Array) -> pa.Array:
    """Arrow strings -> JSON string literals (``null`` when missing).

    Only the few values with quotes, backslashes or control characters go through ``json``.
    """
    needs = pc.fill_null(pc.match_substring_regex(values, r'[\\"\x00-\x1f]'), False)
    escaped = [json.dumps(v, ensure_ascii=False)[1:-1] for v in values.filter(needs).to_pylist()]
    inner = pc.replace_with_mask(values, needs, pa.array(escaped, type=values.type))
    return pc.fill_null(_join('"', inner, '"'), "null")


def _overwrite(values: pa.Array, where: np.ndarray, replacements: pa.Array) -> pa.Array:
    """``values`` with the rows in ``where`` replaced, in order, by ``replacements``."""
    return pc.replace_with_mask(values, pa.array(where), replacements)


def _join(*parts: str | pa.Array) -> pa.Array:
    """Concatenate string arrays and literals element-wise (a missing part makes the row null)."""
    big = [pa.scalar(p, pa.large_string()) if isinstance(p, str) else p.cast(pa.large_string())
           for p in parts]  # fmt: skip
    return pc.binary_join_element_wise(*big, pa.scalar("", pa.large_string()))


#: The mixes :func:`synthetic_frame` makes: the project's benchmark data (short descriptions,
#: one extra field), and the heavy mix of a real tenant (issue 12): 1 % of the descriptions
#: 20 KB long, a fifth of the events with about 1.3 KB of extra fields, some 880 bytes of raw
#: JSON per event on average.
MIXES = ("project", "heavy")
_LONG_SHARE = 0.01
_EXTRAS_SHARE = 0.2
_AGENTS = [
    f"Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
    for os in ("X11; Linux x86_64", "Windows NT 10.0; Win64; x64", "Macintosh; Intel Mac OS X")
    for v in range(118, 131)
]
_CITIES = [("DE", "Berlin"), ("US", "New York"), ("IL", "Tel Aviv"), ("JP", "Tōkyō"),
           ("BR", "São Paulo"), ("IN", "Bengaluru"), ("FR", "Paris"), ("PL", "Łódź")]  # fmt: skip


def _heavy_extras(rng: np.random.Generator, n: int, ids: pa.Array) -> pa.Array:
    """About 1.3 KB of extra fields per event: a user agent, a request id, where from, and a
    list of changed settings (JSON text, to splice into the raw event)."""
    change = {"setting": "policy.rule_{}_{}", "from": "enabled", "to": "disabled"}
    changes = [
        json.dumps([dict(change, setting=change["setting"].format(i, j)) for j in range(20)])
        for i in range(20)
    ]
    cities = [json.dumps({"country": c, "city": city}, ensure_ascii=False) for c, city in _CITIES]
    return _join(
        ',"user_agent":"', _take(_AGENTS, rng.integers(0, len(_AGENTS), n)),
        '","request_id":"', ids, '","geo":', _take(cities, rng.integers(0, len(cities), n)),
        ',"metadata":{"source":"web","changes":', _take(changes, rng.integers(0, 20, n)), "}",
    )  # fmt: skip


def synthetic_frame(n: int, seed: int = 0, mix: str = "project") -> pd.DataFrame:
    """``n`` events ending at :data:`SYNTHETIC_NOW`, in the frame contract's columns and order;
    ``mix`` is one of :data:`MIXES`."""
    if mix not in MIXES:
        raise ValueError(f"unknown mix {mix!r} (use {', '.join(MIXES)})")
    rng = np.random.default_rng(seed)
    # Ages over 90 days, denser towards now; a quarter of the rows share a neighbour's millisecond.
    window_ms = 90 * 24 * 3600 * 1000
    ages = np.minimum(rng.exponential(window_ms / 4, size=n), window_ms - 1).astype(np.int64)
    ages.sort()
    shared = rng.random(n) < 0.25
    shared[:1] = False
    ages = np.where(shared, np.roll(ages, 1), ages)
    end_ms = int(SYNTHETIC_NOW.timestamp() * 1000)
    millis = end_ms - ages - 1
    ids = _ids(rng, millis)

    people = [(f"{f} {last}", f"{f}.{last}".lower().replace("'", "") + "@example.com")
              for f in _FIRST for last in _LAST]  # fmt: skip
    logins = [f"{f.lower()}-{last.lower()}-bot" for f in _FIRST[:8] for last in _LAST[:3]]
    actor = _choice(rng, ACTOR_TYPES, n, [80, 14, 6])
    person = rng.integers(0, len(people), size=n)
    login = rng.integers(0, len(logins), size=n)
    shape = rng.integers(0, 10, size=n)  # users: 0 -> no email, 1 -> no name, else both
    # One pool of (user, user_name, user_email) triples, indexed per row: display_user's rules.
    pool: list[tuple[str, str | None, str | None]] = [("System", None, None)]
    pool += [(f"{name} (scm)", name, None) for name in logins]
    pool += [(email, name, email) for name, email in people]
    pool += [(name, name, None) for name, _ in people]
    pool += [(email, None, email) for _, email in people]
    block = np.array([1, 2] + [0] * 8)[shape]
    who = np.where(
        actor == 2,
        0,
        np.where(actor == 1, 1 + login, 1 + len(logins) + person + len(people) * block),
    )
    user, user_name, user_email = (_take([p[i] for p in pool], who) for i in range(3))

    action_idx = _choice(rng, [a for a, _ in _ACTIONS], n, [w for _, w in _ACTIONS])
    action = _take([a for a, _ in _ACTIONS], action_idx)

    rule = _base32(rng.integers(0, 2**60, size=n, dtype=np.uint64), 12)
    rule_ids = pa.LargeStringArray.from_buffers(
        n,
        pa.py_buffer(np.arange(0, 12 * n + 1, 12, dtype=np.int64)),
        pa.py_buffer(np.ascontiguousarray(rule).tobytes()),
    )
    counts = _take([str(i) for i in range(40)], rng.integers(1, 40, size=n))
    description = _join(
        counts, " findings ignored, Reason: '", _take(_REASONS, _choice(rng, _REASONS, n)),
        "', Comment: '", _take(_COMMENTS, _choice(rng, _COMMENTS, n)),
        "', Ignore rule ID: '", pc.utf8_lower(rule_ids),
        "', URL: 'https://platform.example.com/r/", rule_ids, "'",
    )  # fmt: skip
    # Logins, role and key changes carry short or empty descriptions.
    plain = np.isin(action_idx, [3, 7, 9, 10, 11, 12, 13, 14])
    short = ["", "ID: 'sso'", "Role: 'admin'", "ID: 'k-17'"]
    description = _overwrite(description, plain, _take(short, rng.integers(0, 4, plain.sum())))
    hostile = rng.random(n) < 0.02
    description = _overwrite(
        description, hostile, _take(_HOSTILE, _choice(rng, _HOSTILE, hostile.sum()))
    )
    log = 'row, "value"\n' * 1400
    big = np.arange(n) == n // 2  # one 20 KB description, as the platform may send
    description = _overwrite(
        description, big, pa.array(["Long export log: " + log] * big.sum(), pa.large_string())
    )
    if mix == "heavy":  # and in the heavy mix, one in a hundred, each its own
        long = (rng.random(n) < _LONG_SHARE) & ~big
        which = pc.utf8_lower(rule_ids.filter(pa.array(long)))
        heavy_log = 'row, "value"\n' * 1550  # 20 KB
        description = _overwrite(
            description, long, _join("Long export log ", which, ": ", heavy_log)
        )

    created = pa.array(millis, type=pa.timestamp("ms", tz="UTC"))
    actor_text = _take(list(ACTOR_TYPES), actor)
    created_text = pc.utf8_replace_slice(
        created.cast(pa.timestamp("ms")).cast(pa.large_string()), start=10, stop=11, replacement="T"
    )
    raw = _join(
        '{"action":', _json_field(action), ',"actor_type":"', actor_text,
        '","created_at":"', created_text, "Z",
        '","description":', _json_field(description), ',"id":"', ids,
        '","ip_address":"10.0.', _take([str(i) for i in range(250)], login % 250),
        '.7","user_email":', _json_field(user_email), ',"user_name":', _json_field(user_name),
    )  # fmt: skip
    if mix == "heavy":
        extra = rng.random(n) < _EXTRAS_SHARE
        fields = _heavy_extras(rng, int(extra.sum()), ids.filter(pa.array(extra)))
        raw = _join(raw, _overwrite(_take([""], np.zeros(n, np.int64)), extra, fields))
    raw = _join(raw, "}")

    def text(values: pa.Array) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(values.cast(pa.large_string())), dtype=_STRING)

    # Rows are already in the default order: ages ascend (created_at descends) and, within one
    # millisecond, the id's row-number part ascends.
    return pd.DataFrame(
        {
            "id": text(ids),
            "created_at": pd.Series(created.cast(pa.timestamp("us", tz="UTC")).to_pandas()),
            "user": text(user),
            "user_name": text(user_name),
            "user_email": text(user_email),
            "actor_type": text(actor_text),
            "action": text(action),
            "description": text(description),
            "flags": text(pa.array([""] * n, pa.large_string())),
            "raw": text(raw),
        }
    )


def write_cache(path: Path, frame: pd.DataFrame, profile: str = "bench") -> None:
    """Store ``frame``'s events in a cache at ``path`` through the app's own insert path.

    Events go in as a sync would store them (normalized rows, pages of 10,000), so the cache
    the benchmarks open is exactly what a sync of these events would have left.
    """
    batch: list[EventRow] = []
    columns = [frame[name].tolist() for name in FRAME_COLUMNS if name != "created_at"]
    created = frame["created_at"].dt.to_pydatetime()
    with CacheStore.open(path) as store:
        for event_id, when, *rest in zip(columns[0], created, *columns[1:], strict=True):
            user, user_name, user_email, actor_type, action, description, _flags, raw = rest
            row = (event_id, when, user, _none(user_name), _none(user_email), actor_type)
            batch.append(EventRow(*row, action, description, raw))
            if len(batch) == 10_000:
                store.upsert_events(profile, batch)
                batch.clear()
        store.upsert_events(profile, batch)


def _none(value: object) -> object:
    return None if value is pd.NA else value
