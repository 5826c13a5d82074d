"""A client generated from the committed openapi.yaml works against the real server.

The client is generated afresh by openapi-python-client for each run, so a schema change that
breaks generated clients fails here, not in a customer's build.
"""

import importlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.live import ROOT, gunicorn, manage, server_env

GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="module")
def reporting_client(tmp_path_factory):
    where = tmp_path_factory.mktemp("client")
    config = where / "config.yaml"
    config.write_text("post_hooks: []\n")
    subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(ROOT / "openapi.yaml"),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(where / "reporting_client"),
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module("reporting_client")
    finally:
        sys.path.remove(str(where))


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    path = tmp_path_factory.mktemp("clientdb") / "demo.sqlite3"
    env = server_env(DATABASE_URL=f"sqlite:///{path}")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "import_data", str(ROOT / "fixtures" / "demo.jsonl"))
    token = manage(env, "create_token", "--tenant", "acme", "--name", "client", "--scopes", "all")
    with gunicorn(env) as base_url:
        yield base_url, token


def test_generated_client_pages_fetches_and_summarises(reporting_client, live):
    from reporting_client import AuthenticatedClient
    from reporting_client.api.analytics import get_analytics_summary
    from reporting_client.api.scorecards import get_scorecard
    from reporting_client.api.sessions import get_session, list_sessions
    from reporting_client.api.token import get_token
    from reporting_client.models import Error

    base_url, token = live
    client = AuthenticatedClient(base_url=base_url, token=token)

    me = get_token.sync(client=client)
    assert me.ok and me.data.tenant.name == "Acme Realty"

    sessions, cursor, pages = [], None, 0
    while True:
        kwargs = {"limit": 7} if cursor is None else {"limit": 7, "cursor": cursor}
        page = list_sessions.sync(client=client, **kwargs)
        pages += 1
        sessions += page.data
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages > 3
    assert len({s.id for s in sessions}) == len(sessions) == 60  # acme's sessions, once each
    assert [s.started_at for s in sessions] == sorted(
        (s.started_at for s in sessions), reverse=True
    )

    scored = next(s for s in sessions if s.scorecard_id)
    detail = get_session.sync(client=client, id=scored.id)
    assert detail.data.id == scored.id and len(detail.data.transcript) > 2
    assert {turn.role.value for turn in detail.data.transcript} <= {"agent", "user"}
    card = get_scorecard.sync(client=client, id=scored.scorecard_id)
    assert card.data.session_id == scored.id and 0 <= card.data.overall_score <= 100

    summary = get_analytics_summary.sync(
        client=client,
        from_=datetime(2026, 1, 1, tzinfo=UTC),
        to=datetime(2026, 12, 31, tzinfo=UTC),
    )
    assert summary.data.sessions == 60
    assert summary.data.scored == sum(1 for s in sessions if s.scorecard_id)

    missing = get_session.sync(client=client, id=scored.scorecard_id)  # not a session id
    assert isinstance(missing, Error) and missing.code.value == "not_found"


def test_generated_client_runs_an_incremental_sync(reporting_client, live):
    from reporting_client import AuthenticatedClient
    from reporting_client.api.deletions import list_deletions
    from reporting_client.api.scorecards import list_scorecards
    from reporting_client.api.sessions import list_sessions

    base_url, token = live
    client = AuthenticatedClient(base_url=base_url, token=token)

    def sync(operation, since):
        items, cursor = [], None
        while True:
            kwargs = {"limit": 9, "updated_since": since}
            if cursor is not None:
                kwargs["cursor"] = cursor
            page = operation.sync(client=client, **kwargs)
            items += page.data
            if (cursor := page.next_cursor) is None:
                return items

    sessions = sync(list_sessions, datetime(1970, 1, 1, tzinfo=UTC))
    assert len({s.id for s in sessions}) == 60
    assert [s.updated_at for s in sessions] == sorted(s.updated_at for s in sessions)
    last = max(s.updated_at for s in sessions)
    # Nothing changed since: only the records stamped at that very instant come again.
    assert all(s.updated_at == last for s in sync(list_sessions, last))
    cards = sync(list_scorecards, datetime(1970, 1, 1, tzinfo=UTC))
    assert {c.session_id for c in cards} == {s.id for s in sessions if s.scorecard_id}
    assert list_deletions.sync(client=client).data == []


def test_generated_client_pages_a_breakdown(reporting_client, live):
    from reporting_client import AuthenticatedClient
    from reporting_client.api.analytics import get_analytics_breakdown, get_analytics_summary

    base_url, token = live
    client = AuthenticatedClient(base_url=base_url, token=token)
    period = {"from_": datetime(2026, 1, 1, tzinfo=UTC), "to": datetime(2026, 12, 31, tzinfo=UTC)}
    groups, cursor = [], None
    while True:
        extra = {} if cursor is None else {"cursor": cursor}
        page = get_analytics_breakdown.sync(
            client=client, by="user,week", tz="America/New_York", limit=5, **period, **extra
        )
        groups += page.data
        if (cursor := page.next_cursor) is None:
            break
    assert len(groups) > 5
    keys = [(str(g.user_id), g.week) for g in groups]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(g.week.weekday() == 0 for g in groups)  # ISO weeks start on Monday
    summary = get_analytics_summary.sync(client=client, **period)
    assert sum(g.sessions for g in groups) == summary.data.sessions
    assert sum(g.scored for g in groups) == summary.data.scored
    assert any(g.categories and g.verdicts.solid + g.verdicts.crushed_it for g in groups)
