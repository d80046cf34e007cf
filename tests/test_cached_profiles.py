"""One rule decides which profile of a cache is shown or exported."""

from __future__ import annotations

import pytest

from audit_viewer.cached_profiles import Choice, NotCachedError, choose


def test_a_profile_asked_for_by_name_must_have_events_there() -> None:
    assert choose(["prod", "lab"], wanted="lab", preferred="prod") == Choice("lab")
    with pytest.raises(NotCachedError) as caught:
        choose(["prod", "lab"], wanted="staging", location="/srv/archive.sqlite3")
    assert str(caught.value) == (
        "No events for profile 'staging' in /srv/archive.sqlite3; profiles there: lab, prod"
    )
    with pytest.raises(NotCachedError, match=r"profiles there: none$"):
        choose([], wanted="prod")


def test_the_preferred_profile_wins_when_the_cache_has_it() -> None:
    assert choose(["prod", "lab"], preferred="prod") == Choice("prod")
    assert choose(["lab"], preferred="prod") == Choice("lab")  # the only one there


def test_several_without_a_preference_must_be_asked() -> None:
    assert choose(["prod", "lab", "prod"]) == Choice(None, ("lab", "prod"))
    assert choose(["prod", "lab"], preferred="gone") == Choice(None, ("lab", "prod"))


def test_an_empty_cache_has_nothing_to_choose() -> None:
    assert choose([]) == Choice(None, ())
    assert choose([], preferred="prod") == Choice(None, ())
