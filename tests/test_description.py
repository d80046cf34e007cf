"""Key/value pairs in descriptions and extra fields in raw events, as the detail pane shows them."""

from __future__ import annotations

import json
import random

import pytest

from audit_viewer.description import extra_fields, parse_pairs


@pytest.mark.parametrize(
    ("description", "pairs"),
    [
        (  # the contract's example
            "2 findings ignored, Reason: 'false_positive', Comment: 'Not relevant findings', "
            "Ignore rule ID: 'd495a58f-7d4c-48e4-a4e4-30f781fbe150'",
            [
                ("Reason", "false_positive"),
                ("Comment", "Not relevant findings"),
                ("Ignore rule ID", "d495a58f-7d4c-48e4-a4e4-30f781fbe150"),
            ],
        ),
        (
            "Ticket created, URL: 'https://jira.example.com/browse/SEC-1?x=1&y=2', ID: 'SEC-1'",
            [("URL", "https://jira.example.com/browse/SEC-1?x=1&y=2"), ("ID", "SEC-1")],
        ),
        ("ID: 'sso'", [("ID", "sso")]),
        (
            "Comment: 'won't fix', Reason: 'accepted_risk'",
            [("Comment", "won't fix"), ("Reason", "accepted_risk")],
        ),
        ("Comment: 'Vendor says \"won't fix\", ok'", [("Comment", 'Vendor says "won\'t fix", ok')]),
        ("Comment: 'it''s fine'", [("Comment", "it's fine")]),
        (
            "Comment: 'a \\'quoted\\' word', URL: 'u'",
            [("Comment", "a 'quoted' word"), ("URL", "u")],
        ),
        ("Comment: 'back\\\\slash'", [("Comment", "back\\slash")]),
        ("Comment: '', Reason: 'x'", [("Comment", ""), ("Reason", "x")]),
        ("Comment: 'a, b, c: d', Reason: 'x'", [("Comment", "a, b, c: d"), ("Reason", "x")]),
        ("Comment: 'line one\nline two'", [("Comment", "line one\nline two")]),
        ("Role: 'admin' Scope: 'org'", [("Role", "admin"), ("Scope", "org")]),
        ("Reason: 'x', and then some prose.", [("Reason", "x")]),
        ("Reason: 'x'.", [("Reason", "x")]),
        ("Kommentar: 'Grüße', Причина: 'тест'", [("Kommentar", "Grüße"), ("Причина", "тест")]),
        ("Comment: 'never closed", [("Comment", "never closed")]),
        ("Comment: 'don't stop", [("Comment", "don't stop")]),
        ("User logged in", []),
        ("", []),
        ("ratio 3:1 and 'quoted' text", []),
        ("=cmd|' /C calc'!A0", []),
    ],
)
def test_parse_pairs(description: str, pairs: list[tuple[str, str]]) -> None:
    assert parse_pairs(description) == pairs


def test_parse_pairs_on_a_long_description() -> None:
    comment = "row, 'value'\n" * 2000
    pairs = parse_pairs(f"Reason: 'bulk', Comment: '{comment}', URL: 'https://x'")
    assert pairs == [("Reason", "bulk"), ("Comment", comment), ("URL", "https://x")]


def test_parse_pairs_never_raises() -> None:
    pieces = [
        "Reason",
        "Comment",
        ": ",
        "'",
        "''",
        "\\",
        "\\'",
        ", ",
        ",",
        " ",
        "\n",
        "x",
        "é",
        "\x00",
    ]
    generator = random.Random(7)
    for _ in range(3000):
        text = "".join(generator.choice(pieces) for _ in range(generator.randint(0, 20)))
        for key, value in parse_pairs(text):
            assert key and isinstance(value, str)


def test_extra_fields_are_the_fields_the_contract_does_not_name() -> None:
    raw = {
        "id": "01JE",
        "created_at": "2026-11-02T14:03:11.482Z",
        "user_name": "alice",
        "user_email": None,
        "actor_type": "user",
        "action": "User logged in",
        "description": "",
        "ip_address": "10.0.0.7",
        "tenant_id": "t-1",
        "metadata": {"source": "sso", "tags": ["a", "b"]},
    }
    assert extra_fields(json.dumps(raw)) == {
        "ip_address": "10.0.0.7",
        "tenant_id": "t-1",
        "metadata": {"source": "sso", "tags": ["a", "b"]},
    }


@pytest.mark.parametrize("raw", ["", "{", "[1, 2]", "null", '"text"', "{" * 100_000, "[" * 100_000])
def test_extra_fields_of_unreadable_raw_is_empty(raw: str) -> None:
    assert extra_fields(raw) == {}
