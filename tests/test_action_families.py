"""Actions that embed a value belong to one family; the rest are families of their own."""

from __future__ import annotations

import pytest

from audit_viewer.action_families import embedded_values, family

REMOVED = "Removed user … from account"
KEY = "6f33d43e-ae9b-42a4-b4d2-7ebbf264d6ba"
HOOK = "https://hooks.example.com/x?y=1"
ODD_EMAIL = "o'neil.x+tag@sub.example.co.uk"


@pytest.mark.parametrize(
    ("action", "expected", "values"),
    [
        ("Removed user bob@example.com from account", REMOVED, ["bob@example.com"]),
        (f"Removed user {ODD_EMAIL} from account", REMOVED, [ODD_EMAIL]),
        (f"Webhook {HOOK} failed", "Webhook … failed", [HOOK]),
        (f"Deleted key {KEY}", "Deleted key …", [KEY]),
        ("Export SBOM", "Export SBOM", []),
        ("Findings ignored from PR", "Findings ignored from PR", []),
        ("User logged in", "User logged in", []),
        ("", "", []),
    ],
)
def test_family_and_values(action: str, expected: str, values: list[str]) -> None:
    assert family(action) == expected
    assert embedded_values(action) == values
