"""The sandbox platform server, spoken to over real loopback HTTP with plain ``requests``.

The sandbox is what the client, the sync engine and the demo are tested against, so it must
follow ``shared/platform-api.md`` exactly; these tests hold it to the contract.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from audit_viewer.events import format_timestamp, normalize_event, parse_timestamp
from audit_viewer.sandbox import Faults, SandboxServer

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
CONTRACT_ACTIONS = {
    "Findings ignored from backlog",
    "Findings ignored from PR",
    "Export Security Plan results",
    "Ticket created",
    "Export SBOM",
    "Export SBOM failure",
    "User logged in",
    "Removed user bob@example.com from account",
    "Assigned roles",
    "Removed roles",
    "Added user",
    "Created API key",
    "Deleted API key",
    "Updated profile",
}
ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def token_for(server: SandboxServer, http: requests.Session) -> str:
    answer = http.post(
        f"{server.url}/authentication/login",
        json={"clientId": server.client_id, "secret": server.secret},
        timeout=10,
    )
    assert answer.status_code == 200
    return answer.json()["accessToken"]


def get_list(
    server: SandboxServer, http: requests.Session, token: str | None, **params: object
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.get(f"{server.url}/audit-logs", params=params, headers=headers, timeout=10)


def walk(server: SandboxServer, http: requests.Session, **params: object) -> list[list[dict]]:
    """Every page of a window, following the cursor the way the contract says.

    As fast as the machine goes, so the server's own rate limit is switched off for it.
    """
    server.faults.enforce_rate_limit = False
    token = token_for(server, http)
    pages: list[list[dict]] = []
    after = None
    while True:
        extra = {"after": after} if after else {}
        answer = get_list(server, http, token, **params, **extra)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages.append(body["data"])
        assert body["metadata"]["count"] == len(body["data"])
        after = body["metadata"]["after"]
        if after is None:
            return pages


def ids(events: list[dict]) -> list[str]:
    return [event["id"] for event in events]


# -- authentication -------------------------------------------------------------------------


def test_login_issues_a_token_and_rejects_bad_credentials(sandbox, http):
    assert token_for(sandbox, http)
    wrong = http.post(
        f"{sandbox.url}/authentication/login",
        json={"clientId": sandbox.client_id, "secret": "not-the-secret"},
        timeout=10,
    )
    assert wrong.status_code == 401
    assert wrong.json()["message"]
    assert (sandbox.stats.logins, sandbox.stats.failed_logins) == (1, 1)


def test_list_needs_a_valid_bearer_token(sandbox, http):
    assert get_list(sandbox, http, None).status_code == 401
    assert get_list(sandbox, http, "forged.token.value").status_code == 401
    token = token_for(sandbox, http)
    assert get_list(sandbox, http, token).status_code == 200
    sandbox.revoke_tokens()
    revoked = get_list(sandbox, http, token)
    assert revoked.status_code == 401
    assert "message" in revoked.json()
    assert sandbox.stats.unauthorized == 3


def test_tokens_expire_after_their_ttl(http):
    with SandboxServer(events=50, faults=Faults(token_ttl=0.0)) as server:
        token = token_for(server, http)
        assert get_list(server, http, token).status_code == 401


def test_non_admin_gets_403(http):
    with SandboxServer(events=50, admin=False) as server:
        answer = get_list(server, http, token_for(server, http))
        assert answer.status_code == 403
        assert "administrator" in answer.json()["message"]


def test_unknown_paths_and_wrong_methods(sandbox, http):
    assert http.get(f"{sandbox.url}/v2/audit-logs", timeout=10).status_code == 404
    assert http.get(f"{sandbox.url}/authentication/login", timeout=10).status_code == 405
    assert http.post(f"{sandbox.url}/audit-logs", json={}, timeout=10).status_code == 405


# -- listing --------------------------------------------------------------------------------


def test_pages_cover_the_window_newest_first_ties_by_id(sandbox, http):
    pages = walk(sandbox, http)
    assert len(pages[0]) == 100  # the default limit
    served = [event for page in pages for event in page]
    assert served == sandbox.all_events()
    keys = [(-parse_timestamp(e["created_at"]).timestamp(), e["id"]) for e in served]
    assert keys == sorted(keys)
    assert len(set(ids(served))) == len(served) == 1500


def test_a_page_boundary_inside_one_millisecond_loses_nothing(sandbox, http):
    counts = Counter(event["created_at"] for event in sandbox.all_events())
    assert counts.most_common(1)[0][1] > 100  # a bulk action larger than a page
    served = [event for page in walk(sandbox, http, limit=60) for event in page]
    assert ids(served) == ids(sandbox.all_events())


def test_start_is_inclusive_and_end_exclusive(sandbox, http):
    events = sandbox.all_events()
    moment = parse_timestamp(events[len(events) // 2]["created_at"])
    at_moment = [e["id"] for e in events if parse_timestamp(e["created_at"]) == moment]
    window = {
        "start_time": format_timestamp(moment),
        "end_time": format_timestamp(moment + timedelta(milliseconds=1)),
        "limit": 1000,
    }
    assert ids(walk(sandbox, http, **window)[0]) == at_moment
    before = {"end_time": format_timestamp(moment), "limit": 1000}
    served = [event for page in walk(sandbox, http, **before) for event in page]
    assert all(parse_timestamp(event["created_at"]) < moment for event in served)
    assert len(served) == sum(parse_timestamp(e["created_at"]) < moment for e in events)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"limit": 1001}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": "2026-13-45T00:00:00Z"}, "end_time"),
        ({"after": "not-a-cursor"}, "after"),
    ],
)
def test_bad_parameters_answer_400_with_a_message(sandbox, http, params, fragment):
    answer = get_list(sandbox, http, token_for(sandbox, http), **params)
    assert answer.status_code == 400
    assert fragment in answer.json()["message"]


def test_cursor_is_opaque_base64_json_and_survives_added_events(http):
    with SandboxServer(events=300, seed=3, now=lambda: NOW) as server:
        token = token_for(server, http)
        first = get_list(server, http, token, limit=100).json()
        cursor = first["metadata"]["after"]
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        assert decoded["i"] == first["data"][-1]["id"]
        before = server.all_events()
        newest = server.make_event(NOW - timedelta(seconds=1))
        late = server.make_event(parse_timestamp(before[200]["created_at"]))
        server.add_events([newest, late])
        rest: list[dict] = []
        after = cursor
        while after:
            body = get_list(server, http, token, limit=100, after=after).json()
            rest.extend(body["data"])
            after = body["metadata"]["after"]
        # Pages already read stay read; the late event in the unread part shows up.
        expected = [e for e in server.all_events() if e["id"] not in ids(first["data"])]
        expected.remove(newest)
        assert rest == expected
        assert late in rest


def test_retention_hides_events_older_than_90_days(http):
    with SandboxServer(events=100, now=lambda: NOW) as server:
        old = server.make_event(NOW - timedelta(days=91))
        recent = server.make_event(NOW - timedelta(days=89))
        server.add_events([old, recent])
        assert recent in server.all_events()
        assert old not in server.all_events()
        ancient = format_timestamp(NOW - timedelta(days=400))
        served = walk(server, http, start_time=ancient, limit=1000)[0]
        assert recent["id"] in ids(served)
        assert old["id"] not in ids(served)


# -- the data -------------------------------------------------------------------------------


def test_events_are_realistic_and_hostile(sandbox):
    events = sandbox.all_events()
    actions = {event["action"] for event in events}
    assert actions >= CONTRACT_ACTIONS
    assert any(
        action.endswith(" failure") and action != "Export SBOM failure" for action in actions
    )
    assert all(ULID.match(event["id"]) for event in events)
    by_actor = {
        actor: [e for e in events if e["actor_type"] == actor] for actor in ("scm", "system")
    }
    assert by_actor["scm"] and all(
        e["user_name"] and e["user_email"] is None for e in by_actor["scm"]
    )
    assert by_actor["system"] and all(
        e["user_name"] is None and e["user_email"] is None for e in by_actor["system"]
    )
    descriptions = [event["description"] for event in events]
    assert any("Reason: '" in text and "Ignore rule ID: '" in text for text in descriptions)
    assert any("URL: 'https://" in text for text in descriptions)
    for first in "=+-@":
        assert any(text.startswith(first) for text in descriptions), first
    assert any("\n" in text for text in descriptions)
    assert any('"' in text and "," in text for text in descriptions)
    assert any("🔥" in text and "\u202e" in text for text in descriptions)
    assert "" in descriptions
    assert max(len(text) for text in descriptions) >= 20_000
    assert any(isinstance(event.get("metadata"), dict) for event in events)
    assert any("ip_address" in event and "tenant_id" in event for event in events)
    for event in events:
        normalize_event(event)  # the app's own reader takes every one of them


def test_same_seed_same_events_other_seed_other_events():
    def events(seed: int) -> list[dict]:
        return SandboxServer(events=200, seed=seed, now=lambda: NOW).all_events()

    assert events(5) == events(5)
    assert ids(events(5)) != ids(events(6))


def test_make_event_gives_fresh_ids_and_takes_fields(sandbox):
    at = datetime.now(UTC) - timedelta(minutes=3)
    one = sandbox.make_event(at, action="Ticket created", user_email="x@example.com")
    two = sandbox.make_event(at)
    assert one["id"] != two["id"]
    assert (one["action"], one["user_email"]) == ("Ticket created", "x@example.com")
    assert one["created_at"] == format_timestamp(at)
    assert one not in sandbox.all_events()
    sandbox.add_events([one])
    assert one in sandbox.all_events()


# -- faults ---------------------------------------------------------------------------------


def test_injected_429_and_cycling_5xx(http):
    faults = Faults(rate_limit_every=3, retry_after=2, server_error_every=2)
    with SandboxServer(events=50, faults=faults) as server:
        token = token_for(server, http)
        answers = [get_list(server, http, token) for _ in range(9)]
        statuses = [answer.status_code for answer in answers]
        assert statuses == [200, 500, 429, 502, 200, 429, 200, 503, 429]
        assert answers[2].headers["Retry-After"] == "2"
        assert server.stats.faults_injected == 6
        assert server.stats.rate_limited == 0


def test_too_many_requests_in_one_second_are_rate_limited(sandbox, http):
    token = token_for(sandbox, http)
    statuses = [get_list(sandbox, http, token, limit=1).status_code for _ in range(15)]
    assert 429 in statuses
    assert statuses[:10] == [200] * 10
    assert sandbox.stats.rate_limited == statuses.count(429)


def test_malformed_and_slow_pages(http):
    faults = Faults(malformed_every=2, slow_page_seconds=0.05)
    with SandboxServer(events=50, faults=faults) as server:
        token = token_for(server, http)
        assert get_list(server, http, token).json()["data"]
        broken = get_list(server, http, token)
        assert broken.status_code == 200
        with pytest.raises(ValueError):
            broken.json()


def test_repeat_across_pages_repeats_the_previous_pages_last_event(http):
    with SandboxServer(events=400, faults=Faults(repeat_across_pages=True)) as server:
        pages = walk(server, http, limit=25)
        repeats = [page[0] for prev, page in itertools.pairwise(pages) if page[0] == prev[-1]]
        assert repeats  # it happens, and ...
        assert len(repeats) < len(pages) - 1  # ... only sometimes
        served = ids([event for page in pages for event in page])
        assert list(dict.fromkeys(served)) == ids(server.all_events())


def test_serve_forever_runs_until_stopped(http):
    server = SandboxServer(events=20)
    runner = threading.Thread(target=server.serve_forever)
    runner.start()
    try:
        for _ in range(200):
            if server.port:
                break
            threading.Event().wait(0.01)
        assert http.get(f"{server.url}/nowhere", timeout=10).status_code == 404
    finally:
        server.stop()
        runner.join(timeout=10)
    assert not runner.is_alive()


def test_raw_events_are_spliced_verbatim_into_every_ranges_first_page(http):
    hostile = [b'{"id":"zero","created_at":"0001-01-01T00:00:00Z","action":"x\\u0000y"}', b"{}"]
    with SandboxServer(events=50, faults=Faults(raw_events=hostile)) as server:
        token = token_for(server, http)
        first = get_list(server, http, token, limit=10)
        assert first.content.startswith(b'{"data":[' + b",".join(hostile) + b",{")
        data = first.json()["data"]
        assert [e.get("id") for e in data[:2]] == ["zero", None] and len(data) == 12
        after = first.json()["metadata"]["after"]
        later = get_list(server, http, token, limit=10, after=after).json()["data"]
        assert "zero" not in ids(later)


def test_forbidden_message_answers_every_list_request_403_with_it(http):
    faults = Faults(forbidden_message="Audit logs are not enabled for tenant acme")
    with SandboxServer(events=50, faults=faults) as server:
        answer = get_list(server, http, token_for(server, http))
        assert answer.status_code == 403
        assert answer.json() == {"message": "Audit logs are not enabled for tenant acme"}


def cursors_of(server: SandboxServer, http: requests.Session, pages: int) -> list[dict]:
    """The first ``pages`` bodies of the whole window at 100 a page, following the cursors."""
    token = token_for(server, http)
    bodies: list[dict] = []
    after = None
    for _ in range(pages):
        extra = {"after": after} if after else {}
        bodies.append(get_list(server, http, token, limit=100, **extra).json())
        after = bodies[-1]["metadata"]["after"]
    return bodies


def test_cycle_cursors_lead_from_the_third_page_back_to_the_second(http):
    with SandboxServer(events=1000, faults=Faults(cycle_cursors=True)) as server:
        bodies = cursors_of(server, http, 5)
    cursors = [body["metadata"]["after"] for body in bodies]
    assert len(set(cursors)) == 2
    assert cursors == [cursors[0], cursors[1], cursors[0], cursors[1], cursors[0]]
    assert bodies[3]["data"] == bodies[1]["data"]


def test_repeat_page_forever_serves_the_first_page_under_fresh_cursors(http):
    with SandboxServer(events=1000, faults=Faults(repeat_page_forever=True)) as server:
        bodies = cursors_of(server, http, 4)
        first = server.all_events()[:100]
    assert all(body["data"] == first for body in bodies)
    assert len({body["metadata"]["after"] for body in bodies}) == 4


def test_empty_pages_forever_follow_the_last_page_under_fresh_cursors(http):
    with SandboxServer(events=150, faults=Faults(empty_pages_forever=True)) as server:
        bodies = cursors_of(server, http, 5)
        events = server.all_events()
    assert [event for body in bodies[:2] for event in body["data"]] == events
    assert all(body["data"] == [] for body in bodies[2:])
    assert len({body["metadata"]["after"] for body in bodies}) == 5


def test_trickle_sends_a_list_body_a_byte_at_a_time(http):
    with SandboxServer(events=5, faults=Faults(trickle_seconds=0.01)) as server:
        answer = http.get(
            f"{server.url}/audit-logs",
            params={"limit": 1},
            headers={"Authorization": f"Bearer {token_for(server, http)}"},
            timeout=10,
            stream=True,
        )
        length = int(answer.headers["Content-Length"])
        first = answer.raw.read1(length)
        answer.close()
    assert answer.status_code == 200
    assert 0 < len(first) < length


def test_drop_mid_body_sends_half_the_promised_body_and_hangs_up(http):
    with SandboxServer(events=50, faults=Faults(drop_mid_body_every=2)) as server:
        token = token_for(server, http)
        assert get_list(server, http, token).json()["data"]
        with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
            get_list(server, http, token)
        assert server.stats.faults_injected == 1
