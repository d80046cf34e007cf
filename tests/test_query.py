"""The query language as the search bar, the column filters and ``export --query`` use it."""

from __future__ import annotations

import gc
import random
import weakref
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from benchmark_run import load_synthetic
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_viewer.filters import FilterState
from audit_viewer.query import Query, QueryError, parse_query, quote_value

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
STRING = pd.StringDtype("pyarrow")


def make_frame(rows: list[dict]) -> pd.DataFrame:
    """A frame in the contract's shape; unspecified fields get plain defaults."""
    defaults = {
        "user": "",
        "user_name": None,
        "user_email": None,
        "actor_type": "user",
        "action": "",
        "description": "",
        "raw": "{}",
    }
    filled = [
        {"id": f"ID{i:04d}", "created_at": NOW - timedelta(hours=i), **defaults, **row}
        for i, row in enumerate(rows)
    ]
    frame = pd.DataFrame(filled)
    for column in ("id", "user", "user_name", "user_email", "actor_type", "action"):
        frame[column] = frame[column].astype(STRING)
    frame["description"] = frame["description"].astype(STRING)
    frame["raw"] = frame["raw"].astype(STRING)
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    return frame


EVENTS = make_frame(
    [
        {  # 0
            "user": "alice@example.com",
            "user_name": "Alice Smith",
            "user_email": "alice@example.com",
            "action": "Findings ignored from backlog",
            "description": "2 findings ignored, Reason: 'false_positive', Comment: 'Not relevant'",
        },
        {  # 1
            "user": "bob-bot (scm)",
            "user_name": "bob-bot",
            "actor_type": "scm",
            "action": "Ticket created",
            "description": "Ticket JIRA-7 for finding, URL: 'https://jira.example.com/JIRA-7'",
        },
        {  # 2
            "user": "System",
            "actor_type": "system",
            "action": "Export SBOM failure",
            "description": "=cmd|' /C calc'!A0",
        },
        {  # 3
            "user": "ZOË.Cohen@example.com",
            "user_name": "Zoë Cohen",
            "user_email": "ZOË.Cohen@example.com",
            "action": "User logged in",
            "description": 'Said "hello, world" — 👩\u200d💻 مرحبا',
        },
        {  # 4
            "user": "carol",
            "user_name": "carol",
            "action": "Export SBOM",
            "description": "path C:\\temp\\a.*(b)[c] 50% done\nnext line",
        },
    ]
)


def rows(text: str, df: pd.DataFrame = EVENTS, **kwargs) -> list[int]:
    query = parse_query(text, **kwargs)
    assert isinstance(query, Query), query
    mask = query.mask(df, now=NOW)
    assert mask.dtype == bool and mask.shape == (len(df),)
    return np.flatnonzero(mask).tolist()


def error(text: str, **kwargs) -> QueryError:
    result = parse_query(text, **kwargs)
    assert isinstance(result, QueryError), result
    return result


# --- words, phrases, negation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alice", [0]),
        ("ALICE", [0]),  # case-insensitive
        ("smith", [0]),  # user_name, though the user column shows the email
        ("export", [2, 4]),
        ("export failure", [2]),  # words AND together
        ("failure export", [2]),
        ("ID0003", [3]),  # the id column
        ("scm", [1]),  # actor_type column (and the display string)
        ("zoë", [3]),  # Unicode case folding
        ("ZOË", [3]),
        ("👩\u200d💻", [3]),
        ("مرحبا", [3]),
        ("a.*(b)[c]", [4]),  # regex characters are literal
        ("C:\\temp", [4]),  # a Windows path is a word, not a qualifier
        ("https://jira.example.com/JIRA-7", [1]),  # a URL is a word, not a qualifier
        ("50%", [4]),
        ('"=cmd"', [2]),  # a leading = outside quotes asks for the whole value
        ("=cmd", []),
        ("nothing-matches-this", []),
    ],
)
def test_words_are_case_insensitive_substrings_anded(text: str, expected: list[int]) -> None:
    assert rows(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"hello, world"', [3]),
        ('"findings ignored"', [0]),
        ('"ignored findings"', []),  # a phrase keeps its word order
        ('"Said \\"hello"', [3]),  # \" is a quote inside a phrase
        ('"C:\\\\temp"', [4]),  # \\ is one backslash
        ('"C:\\temp"', [4]),  # a backslash before anything else stays
        ('"export sbom" "failure"', [2]),
        ('""', [0, 1, 2, 3, 4]),  # empty quotes restrict nothing
        ('"done next"', []),  # a newline in the text is not a space
        ('"done\nnext"', [4]),
    ],
)
def test_quoted_phrases(text: str, expected: list[int]) -> None:
    assert rows(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-alice", [1, 2, 3, 4]),
        ("export -failure", [4]),
        ('-"findings ignored"', [1, 2, 3, 4]),
        ("-user:alice", [1, 2, 3, 4]),
        ("-actor:user", [1, 2]),
        ("-after:2026-11-02T12:00", [3, 4]),
        ("-export -alice", [1, 3]),
    ],
)
def test_minus_excludes(text: str, expected: list[int]) -> None:
    assert rows(text) == expected


def test_or_has_lower_precedence_than_and() -> None:
    assert rows("alice OR carol") == [0, 4]
    assert rows("export sbom OR alice") == [0, 2, 4]
    assert rows("export failure OR alice") == [0, 2]
    assert rows("alice or carol") == []  # lowercase "or" is a word
    assert rows('alice "OR" carol') == []  # quoted, it is a word again (AND)
    assert rows("-alice OR actor:system") == [1, 2, 3, 4]


# --- qualifiers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("user:alice", [0]),
        ("user:smith", [0]),  # user_name
        ("user:example.com", [0, 3]),  # user_email
        ('user:"Alice Smith"', [0]),
        ("user:system", [2]),
        ("User:CAROL", [4]),  # qualifier names and values ignore case
        ("action:export", [2, 4]),
        ('action:"export sbom"', [2, 4]),
        ("action:ticket", [1]),
        ("description:reason", [0]),
        ("description:alice", []),  # only the description
        ('description:"hello, world"', [3]),
        ("id:ID0002", [2]),
        ("id:id000", [0, 1, 2, 3, 4]),
        ("actor:user", [0, 3, 4]),
        ("actor:scm", [1]),
        ("actor:SYSTEM", [2]),
        ("alice actor:user", [0]),
    ],
)
def test_qualifiers(text: str, expected: list[int]) -> None:
    assert rows(text) == expected


def test_actor_is_exact_not_substring() -> None:
    frame = make_frame([{"actor_type": "user"}, {"actor_type": "superuser"}])
    assert rows("actor:user", frame) == [0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # EVENTS are 14:00, 13:00, 12:00, 11:00, 10:00 UTC on 2026-11-02
        ("after:2026-11-02T12:00", [0, 1, 2]),  # inclusive
        ("before:2026-11-02T12:00", [3, 4]),  # exclusive
        ("after:2026-11-02T11:00 before:2026-11-02T13:00", [2, 3]),
        ("after:2026-11-02T12:00Z", [0, 1, 2]),
        ("after:2026-11-02T12:00:00.001Z", [0, 1]),
        ("after:2026-11-02T14:00+02:00", [0, 1, 2]),  # 12:00 UTC
        ("after:2026-11-02T07:00-05:00", [0, 1, 2]),  # 12:00 UTC
        ('after:"2026-11-02 12:00"', [0, 1, 2]),
        ("after:2026-11-02", [0, 1, 2, 3, 4]),  # midnight UTC
        ("before:2026-11-02", []),
        ("after:2026-11-03", []),
        ("before:2026-11-03", [0, 1, 2, 3, 4]),
        ("after:0001-01-01", [0, 1, 2, 3, 4]),  # beyond what nanoseconds can hold
        ("before:9999-12-31", [0, 1, 2, 3, 4]),
        ("before:0001-01-01", []),
    ],
)
def test_after_and_before_dates(text: str, expected: list[int]) -> None:
    assert rows(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # EVENTS are 14:00, 13:00, 12:00, 11:00, 10:00 UTC on 2026-11-02
        ("created:>=2026-11-02T12:00", [0, 1, 2]),
        ("created:>2026-11-02T12:00", [0, 1]),
        ("created:<=2026-11-02T12:00", [2, 3, 4]),
        ("created:<2026-11-02T12:00", [3, 4]),
        ("created:2026-11-02", [0, 1, 2, 3, 4]),  # that whole day
        ("created:2026-11-01", []),
        ("created:>2026-11-02", []),  # after the whole day
        ("created:<=2026-11-02", [0, 1, 2, 3, 4]),
        ("created:>=2026-11-03", []),
        ("created:2026-11-02T11:00..2026-11-02T13:00", [1, 2, 3]),  # both ends included
        ("created:2026-11-01..2026-11-02", [0, 1, 2, 3, 4]),  # the last day whole
        ("created:*..2026-11-02T11:00", [3, 4]),
        ("created:2026-11-02T13:00..*", [0, 1]),
        ("-created:2026-11-02T11:00..2026-11-02T13:00", [0, 4]),
        ("created:>=2h", [0, 1, 2]),
        ("created:<2h", [3, 4]),
        ('created:">=2026-11-02 12:00"', [0, 1, 2]),
    ],
)
def test_created_takes_githubs_comparisons_and_ranges(text: str, expected: list[int]) -> None:
    assert rows(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("created:>=", "Missing date after the comparison", 10),
        ("created:>=soon", "Bad date 'soon'", 10),
        ("created:2026-11-01..later", "Bad date 'later'", 20),
        ("created:2d..1d", "Use a date here, not the span '2d'", 8),
    ],
)
def test_created_errors_name_the_position(text: str, message: str, position: int) -> None:
    found = error(text)
    assert found.message.startswith(message) and found.position == position


def test_email_and_name_qualifiers_search_one_field_each() -> None:
    assert rows("email:example.com") == [0, 3]
    assert rows("name:alice") == [0]
    assert rows("name:example") == []  # the email is not the name
    assert rows("email:=alice@example.com") == [0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("after:30m", [0]),
        ("after:60m", [0, 1]),  # exactly an hour ago is included
        ("after:2h", [0, 1, 2]),
        ("after:2H", [0, 1, 2]),
        ("before:2h", [3, 4]),
        ("after:1d", [0, 1, 2, 3, 4]),
        ("after:1w", [0, 1, 2, 3, 4]),
        ("before:1w", []),
        ("after:0m", [0]),
    ],
)
def test_relative_spans_count_back_from_now(text: str, expected: list[int]) -> None:
    assert rows(text) == expected


def test_relative_span_uses_the_current_time_by_default() -> None:
    frame = make_frame([{}])
    frame["created_at"] = pd.Series([pd.Timestamp.now(tz="UTC") - pd.Timedelta(hours=3)]).astype(
        "datetime64[ns, UTC]"
    )
    query = parse_query("after:4h")
    assert isinstance(query, Query)
    assert query.mask(frame).tolist() == [True]
    assert parse_query("after:2h").mask(frame).tolist() == [False]  # type: ignore[union-attr]


def test_default_fields_narrow_bare_words_to_one_column() -> None:
    assert rows("alice", default_fields=("user",)) == [0]
    assert rows("reason", default_fields=("user",)) == []
    assert rows("reason", default_fields=("description",)) == [0]
    assert rows("smith", default_fields=("user",)) == []  # the User column shows the email
    # qualifiers still work in a column filter
    assert rows("-actor:system", default_fields=("description",)) == [0, 1, 3, 4]
    assert rows("x", default_fields=("no_such_column",)) == []


def test_highlight_terms_are_the_positive_text_terms() -> None:
    query = parse_query(
        'alice "hello, world" -bob user:carol actor:scm after:7d Alice OR export description:x'
    )
    assert isinstance(query, Query)
    assert query.highlight_terms() == ["alice", "hello, world", "carol", "export", "x"]


@pytest.mark.parametrize("text", ["", "   ", "\t\n", '""', '"" ""'])
def test_empty_queries_match_everything(text: str) -> None:
    query = parse_query(text)
    assert isinstance(query, Query)
    assert query.is_empty
    assert query.mask(EVENTS).all()
    assert query.highlight_terms() == []


def test_mask_on_empty_frame() -> None:
    empty = EVENTS.iloc[0:0]
    for text in ["", "alice", "-alice", "actor:scm", "after:7d", "a OR b"]:
        query = parse_query(text)
        assert isinstance(query, Query)
        mask = query.mask(empty, now=NOW)
        assert mask.dtype == bool and mask.shape == (0,)


def test_missing_values_never_match_and_are_excluded_by_negation() -> None:
    # user_name/user_email are missing for row 2 (System)
    assert 2 not in rows("user:example")
    assert 2 in rows("-user:example")


def test_columns_of_other_dtypes_work_too() -> None:
    frame = EVENTS.astype({"user": object, "description": "string[python]"})
    assert rows("alice", frame) == [0]
    assert rows("description:reason", frame) == [0]
    naive = EVENTS.assign(created_at=EVENTS["created_at"].dt.tz_localize(None))
    assert rows("after:2026-11-02T12:00", naive) == [0, 1, 2]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('alice "bob', "Unterminated quote", 6),
        ('"', "Unterminated quote", 0),
        ('user:"Alice', "Unterminated quote", 5),
        ('-"x', "Unterminated quote", 1),
        ('"a\\"', "Unterminated quote", 0),
        ("alice usr:x", "Unknown qualifier 'usr:'", 6),
        ("Reason: x", "Unknown qualifier 'Reason:'", 0),
        ("-foo:bar", "Unknown qualifier 'foo:'", 1),
        # Extra fields are searched from their column's filter; here a typo stays an error.
        ("ip_address:10.0.", "Unknown qualifier 'ip_address:'", 0),
        ("user:", "Missing value after 'user:'", 5),
        ("user: alice", "Missing value after 'user:'", 5),
        ('action:""', "Missing value after 'action:'", 7),
        ("actor:bot", "Unknown actor 'bot' (use user, scm or system)", 6),
        ("after:yesterday", "Bad date 'yesterday'", 6),
        ("x before:2026-13-01", "Bad date '2026-13-01'", 9),
        ("after:2026-11-02T25:00", "Bad date '2026-11-02T25:00'", 6),
        ("after:7y", "Unknown time unit in '7y' (use m, h, d or w)", 6),
        ("after:10days", "Unknown time unit in '10days' (use m, h, d or w)", 6),
        ("after:99999999999999999999d", "Time span '99999999999999999999d' is too large", 6),
        ("after:400000w", "Time span '400000w' is too large", 6),
        ("OR alice", "Nothing before OR", 0),
        ("alice OR", "Nothing after OR", 6),
        ("alice OR OR bob", "Nothing before OR", 9),
        ("alice - bob", "Nothing to exclude after '-'", 6),
        ("-", "Nothing to exclude after '-'", 0),
        ("ok \ud800", "Invalid character U+D800", 3),
    ],
)
def test_errors_name_the_position(text: str, message: str, position: int) -> None:
    err = error(text)
    assert err.message.startswith(message)
    assert err.position == position
    assert str(err) == f"{err.message} at character {position + 1}"  # counted from 1


def test_error_text_reads_like_a_sentence() -> None:
    assert str(error('user:"Alice')) == "Unterminated quote at character 6"
    assert str(error("alice usr:x")) == "Unknown qualifier 'usr:' at character 7"


def test_too_many_terms_is_an_error_not_a_hang() -> None:
    err = error(" ".join(["x"] * 101))
    assert err.message.startswith("Too many terms")
    assert err.position == 200
    assert isinstance(parse_query(" ".join(["x"] * 100)), Query)


def test_hostile_input_never_raises() -> None:
    """Random text from the characters the grammar cares about: an answer, never an exception."""
    alphabet = [*'"\\-:OR \t\n\r', "user:", "after:", "actor:", "OR", "é", "\u202e", "\x00"]
    alphabet += ["7d", "2026-11-01", "+02:00", "'", "=", "\ud83d", "𝔘", "a", "Z", "\u3000"]
    generator = random.Random(20261102)
    small = EVENTS.iloc[:3]
    for _ in range(2000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(0, 12)))
        result = parse_query(text)
        if isinstance(result, QueryError):
            assert 0 <= result.position <= len(text)
            assert str(result)
            continue
        mask = result.mask(small, now=NOW)
        assert mask.dtype == bool and mask.shape == (3,)
        result.highlight_terms()


# --- large frames: the cached, dictionary-encoded path agrees with a row-by-row reference -------


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    return load_synthetic().synthetic_frame(120_000, seed=3)  # enough rows to encode columns


def reference(df: pd.DataFrame, words: list[str], fields: tuple[str, ...]) -> np.ndarray:
    """Every word is a substring of some lowercased field (the straightforward pandas way)."""
    result = np.ones(len(df), dtype=bool)
    for word in words:
        found = np.zeros(len(df), dtype=bool)
        for name in fields:
            lowered = df[name].str.lower()
            found |= lowered.str.contains(word.lower(), regex=False).fillna(False).to_numpy(bool)
        result &= found
    return result


def test_reference_agrees_with_plain_python(big: pd.DataFrame) -> None:
    sample = big.iloc[:5000]
    columns = [sample[name].fillna("").tolist() for name in ALL]
    by_row = [
        any("zoë" in value.lower() for value in values) for values in zip(*columns, strict=True)
    ]
    assert np.array_equal(reference(sample, ["ZOË"], ALL), np.array(by_row))


ALL = ("user", "user_name", "user_email", "action", "description", "id", "actor_type")


@pytest.mark.parametrize(
    ("words", "fields", "text"),
    [
        (["alice"], ALL, "alice"),
        (["ali"], ALL, "ali"),
        (["ignored", "reason"], ALL, "ignored REASON"),
        (["zoë"], ALL, "ZOË"),
        (["export sbom"], ("action",), 'action:"Export SBOM"'),
        (["smith"], ("user", "user_name", "user_email"), "user:smith"),
        (["-bot"], ("user", "user_name", "user_email"), "user:-bot"),
        (["false_positive"], ("description",), "description:false_positive"),
        (["01m"], ("id",), "id:01m"),
    ],
)
def test_large_frame_matches_reference(big: pd.DataFrame, words, fields, text) -> None:
    query = parse_query(text)
    assert isinstance(query, Query)
    expected = reference(big, words, fields)
    assert expected.any()
    assert np.array_equal(query.mask(big, now=NOW), expected)
    assert np.array_equal(query.mask(big, now=NOW), expected)  # again, from what was kept


def test_later_terms_after_a_selective_one_agree_with_reference(big: pd.DataFrame) -> None:
    alice, ignored = reference(big, ["alice"], ALL), reference(big, ["ignored"], ALL)
    export = reference(big, ["export"], ("action",))
    assert np.flatnonzero(alice & ignored).size and np.flatnonzero(alice & ~ignored).size
    cases = {
        "ignored alice": alice & ignored,
        "alice -ignored": alice & ~ignored,
        "-ignored alice": alice & ~ignored,
        "action:export failure": export & reference(big, ["failure"], ALL),
        "alice ignored OR action:export -sbom": (alice & ignored)
        | (export & ~reference(big, ["sbom"], ALL)),
    }
    for text, expected in cases.items():
        query = parse_query(text)
        assert isinstance(query, Query)
        assert np.array_equal(query.mask(big, now=NOW), expected), text


def test_typing_letter_by_letter_gives_the_same_rows_as_a_fresh_search(big: pd.DataFrame) -> None:
    for text in ["f", "fa", "fal", "fals", "false", "false_", "false_p", "al", "a", "Not rel"]:
        expected = reference(big, [text], ALL)
        query = parse_query(f'"{text}"')
        assert isinstance(query, Query)
        assert np.array_equal(query.mask(big, now=NOW), expected), text
        negated = parse_query(f'-"{text}"')
        assert np.array_equal(negated.mask(big, now=NOW), ~expected), text  # type: ignore[union-attr]


def test_results_follow_edits_to_the_frame(big: pd.DataFrame) -> None:
    frame = big.copy()
    query = parse_query("user:mallory")
    assert isinstance(query, Query)
    assert not query.mask(frame).any()
    frame.loc[5, "user"] = "mallory@example.com"
    frame.loc[7, "description"] = "Mallory was here"
    assert np.flatnonzero(query.mask(frame)).tolist() == [5]
    assert np.flatnonzero(parse_query("mallory").mask(frame)).tolist() == [5, 7]  # type: ignore[union-attr]


def test_a_dropped_frame_is_freed_after_searching_it() -> None:
    frame = load_synthetic().synthetic_frame(120_000, seed=4)
    description = weakref.ref(frame["description"].array.__arrow_array__())
    raw = weakref.ref(frame["raw"].array.__arrow_array__())
    FilterState(search="alice", actions=frozenset({"Added user"})).action_facets(frame)
    assert parse_query("ignored").mask(frame).any()  # type: ignore[union-attr]
    assert FilterState(text_filters={"ip_address": "10.0.1"}).mask(frame).any()
    del frame
    gc.collect()
    assert description() is None
    assert raw() is None


def test_actor_and_time_on_large_frame(big: pd.DataFrame) -> None:
    query = parse_query("actor:scm after:7d")
    assert isinstance(query, Query)
    now = load_synthetic().SYNTHETIC_NOW
    expected = (big["actor_type"] == "scm").to_numpy(dtype=bool) & (
        big["created_at"] >= pd.Timestamp(now - timedelta(days=7))
    ).to_numpy()
    assert expected.any()
    assert np.array_equal(query.mask(big, now=now), expected)


# --- FilterState ----------------------------------------------------------------------------------


def test_filterset_empty_is_inactive_and_matches_all() -> None:
    filters = FilterState()
    assert not filters.is_active()
    assert filters.errors == {}
    assert filters.mask(EVENTS, now=NOW).all()
    assert not FilterState(search="  ", text_filters={"user": ""}, time_preset="all").is_active()
    assert not FilterState(time_range=(None, None)).is_active()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (FilterState(search="export"), [2, 4]),
        (FilterState(text_filters={"user": "carol"}), [4]),
        # The User column shows alice's email; her name behind it matches too.
        (FilterState(text_filters={"user": "smith"}), [0]),
        (FilterState(text_filters={"description": "smith"}), []),
        (FilterState(text_filters={"description": "reason"}), [0]),
        (FilterState(text_filters={"description": "-reason -calc"}), [1, 3, 4]),
        (FilterState(search="export", text_filters={"user": "carol"}), [4]),
        (FilterState(actions=frozenset({"Ticket created", "User logged in"})), [1, 3]),
        (FilterState(actions=frozenset()), []),
        (FilterState(search="export", actions=frozenset({"Export SBOM"})), [4]),
        (FilterState(time_preset="24h"), [0, 1, 2, 3, 4]),
        (FilterState(time_range=(NOW - timedelta(hours=3), None)), [0, 1, 2, 3]),
        (FilterState(time_range=(None, NOW - timedelta(hours=1))), [2, 3, 4]),  # end exclusive
        (FilterState(time_range=(datetime(2026, 11, 2, 11), datetime(2026, 11, 2, 13))), [2, 3]),
        (
            FilterState(
                time_range=(
                    datetime(2026, 11, 2, 13, tzinfo=timezone(timedelta(hours=2))),
                    None,
                )
            ),
            [0, 1, 2, 3],
        ),
        (
            FilterState(
                search="-carol",
                text_filters={"user": "example"},
                time_range=(NOW - timedelta(hours=3, minutes=30), NOW),
                actions=frozenset({"User logged in", "Export SBOM"}),
            ),
            [3],
        ),
    ],
)
def test_filterset_parts_and_together(filters: FilterState, expected: list[int]) -> None:
    assert filters.is_active()
    assert np.flatnonzero(filters.mask(EVENTS, now=NOW)).tolist() == expected


def test_filterset_time_preset_is_relative_to_now() -> None:
    filters = FilterState(time_preset="7d")
    later = NOW + timedelta(days=7, hours=-3, minutes=-30)  # row 4 is now older than 7 days
    assert np.flatnonzero(filters.mask(EVENTS, now=later)).tolist() == [0, 1, 2, 3]
    both = FilterState(time_preset="7d", time_range=(None, NOW - timedelta(hours=1, minutes=30)))
    assert np.flatnonzero(both.mask(EVENTS, now=later)).tolist() == [2, 3]
    wider = FilterState(time_preset="7d", time_range=(NOW - timedelta(hours=10), None))
    assert np.flatnonzero(wider.mask(EVENTS, now=later)).tolist() == [0, 1, 2, 3]


def test_filterset_reports_errors_and_ignores_the_broken_part() -> None:
    filters = FilterState(
        search='alice "unterminated', text_filters={"user": "usr:x", "description": "reason"}
    )
    errors = filters.errors
    assert set(errors) == {"search", "user"}
    assert str(errors["search"]) == "Unterminated quote at character 7"
    assert errors["user"].message == "Unknown qualifier 'usr:'"
    assert np.flatnonzero(filters.mask(EVENTS, now=NOW)).tolist() == [0]
    assert "time_preset" in FilterState(time_preset="3 years").errors


def test_filterset_highlights_the_positive_terms_of_every_part_once() -> None:
    filters = FilterState(
        search='alice -bot "false positive"',
        text_filters={"user": "alice", "description": "reason", "id": 'broken "quote'},
    )
    # Negated words are not marked, a part that does not parse adds nothing, and a term is
    # marked once however many parts name it.
    assert filters.highlight_terms == ["alice", "false positive", "reason"]
    assert FilterState().highlight_terms == []


def test_action_facets_count_under_the_other_filters() -> None:
    filters = FilterState(search="example", actions=frozenset({"Ticket created"}))
    # "example" matches rows 0 (alice), 1 (jira.example.com URL), 3 (zoë's email)
    facets = filters.action_facets(EVENTS, now=NOW)
    # most frequent first, equal counts by name; actions with no rows left are still offered
    assert list(facets.items()) == [
        ("Findings ignored from backlog", 1),
        ("Ticket created", 1),
        ("User logged in", 1),
        ("Export SBOM", 0),
        ("Export SBOM failure", 0),
    ]
    assert np.flatnonzero(filters.mask(EVENTS, now=NOW)).tolist() == [1]
    assert FilterState().action_facets(EVENTS.iloc[0:0]) == {}
    # The window's one-pass form gives exactly both answers.
    result = filters.evaluate(EVENTS, now=NOW)
    assert np.flatnonzero(result.mask).tolist() == [1]
    assert result.facets() == facets


def test_action_facets_on_large_frame(big: pd.DataFrame) -> None:
    now = load_synthetic().SYNTHETIC_NOW
    filters = FilterState(search="alice", time_preset="30d", actions=frozenset({"Added user"}))
    selected = (
        reference(big, ["alice"], ALL)
        & (big["created_at"] >= pd.Timestamp(now - timedelta(days=30))).to_numpy()
    )
    expected = big["action"][selected].value_counts().to_dict()
    facets = filters.action_facets(big, now=now)
    assert {k: v for k, v in facets.items() if v} == expected
    assert set(facets) == set(big["action"].unique())
    assert list(facets.values()) == sorted(facets.values(), reverse=True)


# --- column filters on extra fields of the raw JSON --------------------------------------------

EXTRA = make_frame(
    [
        {  # 0
            "raw": '{"ip_address":"10.0.0.1","metadata":{"bytes":2147483653}}',
            "description": "from the office",
        },
        {"raw": '{"ip_address":"10.0.1.9","tenant_id":"T-7"}'},  # 1
        {"raw": '{"tenant_id":"t-7","metadata":{"bytes":9}}', "description": "saw 10.0.0.1"},  # 2
        {"raw": "{}"},  # 3
    ]
)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (FilterState(text_filters={"ip_address": "10.0."}), [0, 1]),
        (FilterState(text_filters={"ip_address": "10.0.0.1"}), [0]),  # not row 2's description
        (FilterState(text_filters={"ip_address": "-10.0.0"}), [1, 2, 3]),  # missing: not matching
        (FilterState(text_filters={"ip_address": '"10.0.1.9" OR 10.0.0.1'}), [0, 1]),
        (FilterState(text_filters={"tenant_id": "t-7"}), [1, 2]),  # case-insensitive
        (FilterState(text_filters={"metadata.bytes": "2147483653"}), [0]),  # nested, beyond 2**31
        (FilterState(text_filters={"metadata.bytes": "9"}), [2]),
        (FilterState(search="office", text_filters={"ip_address": "10.0"}), [0]),
        (FilterState(text_filters={"ip_address": "10.0", "tenant_id": "t"}), [1]),
        (FilterState(text_filters={"no_event_has_this": "x"}), []),
    ],
)
def test_column_filters_on_extra_fields_search_the_raw_json(
    filters: FilterState, expected: list[int]
) -> None:
    assert filters.errors == {}
    assert np.flatnonzero(filters.mask(EXTRA, now=NOW)).tolist() == expected


def test_extra_field_filter_on_large_frame_matches_reference(big: pd.DataFrame) -> None:
    ips = big["raw"].str.extract(r'"ip_address":"([^"]*)"', expand=False)
    assert ips.notna().all()
    alice = reference(big, ["alice"], ALL)
    for text in ["1", "10.0.1", "10.0.12", "10.0.12.", "10.0.12.7", ".7"]:
        expected = ips.str.contains(text, regex=False).to_numpy(dtype=bool)
        assert expected.any(), text
        filters = FilterState(text_filters={"ip_address": text})
        assert np.array_equal(filters.mask(big, now=NOW), expected), text
        negated = FilterState(text_filters={"ip_address": f"-{text}"})
        assert np.array_equal(negated.mask(big, now=NOW), ~expected), text
        both = FilterState(search="alice", text_filters={"ip_address": text})
        assert np.array_equal(both.mask(big, now=NOW), alice & expected), text


def test_a_word_with_a_letter_no_id_has_skips_the_ids_but_finds_the_rest() -> None:
    # Ids are uppercase ASCII: "é" and lowercase spellings are searched the same way as before,
    # and a character an id column never holds rules the whole column out.
    df = make_frame(
        [
            {"description": "café ouvert"},
            {"description": "Kelvin: 300 \u212a"},  # the Kelvin sign lowercases to "k"
            {"description": "plain"},
        ]
    )
    df["id"] = pd.Series(["ABC-01", "XYZ-02", "QQQ-03"], dtype=STRING)
    assert rows("é", df) == [0]
    assert rows("abc", df) == [0] and rows("id:xyz-0", df) == [1]
    assert rows('"300 k"', df) == [1]
    assert rows("-é", df) == [1, 2]


def test_prepare_makes_the_first_search_give_the_same_rows(big: pd.DataFrame) -> None:
    from audit_viewer.query import prepare

    frame = big.copy(deep=True)  # columns of their own: nothing kept for them yet
    prepare(frame)
    for text in ("ignored", "ZOË", "01m", "-alice"):
        query = parse_query(text)
        assert isinstance(query, Query)
        assert np.array_equal(query.mask(frame, now=NOW), query.mask(big, now=NOW)), text


# --- exact values and quoting ----------------------------------------------------------------


def matches(text: str, **kwargs) -> list[int]:
    query = parse_query(text, **kwargs)
    assert isinstance(query, Query), query
    return np.flatnonzero(query.mask(EVENTS, now=NOW)).tolist()


def test_an_exact_value_is_the_whole_value_not_a_part():
    assert matches('action:"Export SBOM"') == [2, 4]  # a substring also finds "… failure"
    assert matches('action:="Export SBOM"') == [4]
    assert matches('action:="export sbom"') == [4]  # case aside
    assert matches('-action:="Export SBOM"') == [0, 1, 2, 3]
    assert matches("user:=carol") == [4]  # any of the user fields, whole
    assert matches("user:=caro") == []
    assert matches('="Zoë Cohen"', default_fields=("user", "user_name")) == [3]
    assert matches("=alice", default_fields=("user_name",)) == []


def test_exact_matches_the_same_on_a_dictionary_encoded_column(big: pd.DataFrame):
    value = str(big["action"].iat[0])
    query = parse_query("action:=" + quote_value(value))
    assert isinstance(query, Query)
    expected = (big["action"].str.lower() == value.lower()).to_numpy(dtype=bool)
    assert np.array_equal(query.mask(big), expected)
    shorter = parse_query("action:=" + quote_value(value[:-1]))
    assert isinstance(shorter, Query) and not shorter.mask(big).any()


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40))
@settings(max_examples=300, deadline=None)
def test_a_quoted_value_parses_back_to_exactly_that_value(text: str):
    query = parse_query(quote_value(text))
    assert isinstance(query, Query)
    if text:
        [[term]] = query.groups
        assert term.test.needle == text and not term.negate
    exact = parse_query("=" + quote_value(text))
    assert isinstance(exact, Query)
    [[term]] = exact.groups
    assert term.test.needle == text and term.test.exact


@pytest.mark.parametrize(
    "text", ['say "hi"', "back\\slash\\", 'a\\"b', "user:alice", "-bot", "OR", " ", "\\", '"']
)
def test_hostile_values_round_trip(text: str):
    [[term]] = parse_query("=" + quote_value(text)).groups
    assert term.test.needle == text


def test_extra_fields_are_qualifiers_when_the_archive_has_them() -> None:
    frame = make_frame(
        [
            {"raw": '{"ip_address":"203.0.113.7","metadata":{"bytes":5}}'},
            {"raw": '{"ip_address":"198.51.100.2"}'},
            {"raw": "{}"},
        ]
    )
    extras = ["ip_address", "metadata.bytes"]
    assert rows("ip_address:203.0.113", frame, extra_fields=extras) == [0]
    assert rows("IP_ADDRESS:=198.51.100.2", frame, extra_fields=extras) == [1]
    assert rows("-ip_address:203", frame, extra_fields=extras) == [1, 2]
    assert rows("metadata.bytes:5", frame, extra_fields=extras) == [0]
    assert error("ip_adress:1", extra_fields=extras).message == "Unknown qualifier 'ip_adress:'"
    assert error("ip_address:1").message == "Unknown qualifier 'ip_address:'"  # not there
    assert error("ip_address:1").qualifier == "ip_address"  # for a caller that learns later
    assert error('"open').qualifier is None
    assert rows("v1.2:x", frame, extra_fields=extras) == []  # a plain word, as before


TARGETS = make_frame(
    [
        {"action": "Removed user bob@example.com from account"},
        {"action": "Removed user bobby@example.com from account"},
        {"action": "Invited user carol@example.com", "description": "bob@example.com asked"},
        {"action": "Exported report to https://example.com/r/1"},
        {"action": "Findings ignored from backlog", "user": "bob@example.com"},
    ]
)


def targets(text: str) -> list[int]:
    query = parse_query(text)
    assert isinstance(query, Query), query
    return np.flatnonzero(query.mask(TARGETS, now=NOW)).tolist()


def test_target_matches_the_value_an_action_embeds_and_nothing_else():
    assert targets("target:bob") == [0, 1]  # not the description, not the user
    assert targets("target:=bob@example.com") == [0]  # the whole value, not bobby's
    assert targets("target:=BOB@EXAMPLE.COM") == [0]  # case aside
    assert targets("target:example.com/r") == [3]
    assert targets("-target:bob") == [2, 3, 4]
    assert targets("target:removed") == []  # the action's words are not its target


def test_target_matches_the_same_on_a_dictionary_encoded_column(big: pd.DataFrame):
    from audit_viewer.action_families import embedded_values

    query = parse_query("target:=bob@example.com")
    assert isinstance(query, Query)
    expected = np.array(
        ["bob@example.com" in embedded_values(a) for a in big["action"].tolist()], dtype=bool
    )
    assert expected.any() and np.array_equal(query.mask(big), expected)


def rare_field_frame() -> pd.DataFrame:
    """10,000 events; only row 1 (which the extra-field sample skips) has ``rare_field``."""
    raws = [f'{{"ip_address":"10.0.0.{i % 250}"}}' for i in range(10_000)]
    raws[1] = '{"rare_field":"needle","Other_Rare":"x"}'
    return make_frame([{"raw": raw} for raw in raws])


def test_a_query_naming_a_rare_extra_field_finds_it_in_every_row():
    from audit_viewer.frame import extra_fields, find_extra_field

    df = rare_field_frame()

    def find(name: str) -> str | None:
        return find_extra_field(df, name)

    sampled = frozenset(f.name for f in extra_fields(df))
    state = FilterState(search="rare_field:=needle other_rare:x", extra_fields=sampled)
    assert state.errors["search"].qualifier == "rare_field"  # the sample does not know it
    found = state.with_fields_found(find)
    assert found.errors == {} and found.extra_fields == sampled | {"rare_field", "Other_Rare"}
    assert np.flatnonzero(found.mask(df, now=NOW)).tolist() == [1]
    typo = FilterState(search="rare_feld:x", extra_fields=sampled).with_fields_found(find)
    assert "Unknown qualifier 'rare_feld:'" in str(typo.errors["search"])  # still an error

    query = FilterState(search="other_rare:x rare_field:needle", extra_fields=sampled)
    parsed = query.with_fields_found(find).parsed["search"]
    assert isinstance(parsed, Query) and np.flatnonzero(parsed.mask(df, now=NOW)).tolist() == [1]
