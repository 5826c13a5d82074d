"""Admin as an operator reads it: filters that say what they filter, a session and its scorecard
one click apart, a scorecard's items as tables, and a session list whose cost does not grow with
its rows."""

import re

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ScenarioFactory, ScorecardFactory, SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("op", "op@example.test", "pw"))
    return client


def _filter_titles(body: str) -> list[str]:
    return [
        " ".join(title.split())
        for title in re.findall(r"<summary>\s*(.*?)\s*</summary>", body, flags=re.S)
    ]


def test_status_filters_name_what_they_filter(staff_client, tenant):
    SessionFactory(tenant=tenant)
    sessions = _filter_titles(staff_client.get("/admin/roleplay/session/").content.decode())
    scenarios = _filter_titles(staff_client.get("/admin/roleplay/scenario/").content.decode())
    assert "By session status" in sessions
    assert "By scenario status" in sessions  # the session's scenario's, on the same page
    assert "By scenario status" in scenarios
    assert "By status" not in sessions + scenarios
    assert len(set(sessions)) == len(sessions)


def _shown(page: str, field: str) -> str:
    """What a change page shows in a read-only field."""
    return re.search(
        rf'field-{field}".*?<div class="readonly">(.*?)</div>', page, flags=re.S
    ).group(1)


def test_a_session_and_its_scorecard_link_to_each_other(staff_client, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    session_url = f"/admin/roleplay/session/{card.session_id}/change/"
    card_url = f"/admin/roleplay/scorecard/{card.pk}/change/"

    session_page = staff_client.get(session_url).content.decode()
    assert f'href="{card_url}"' in _shown(session_page, "scorecard_link")
    card_page = staff_client.get(card_url)
    assert card_page.status_code == 200
    link = _shown(card_page.content.decode(), "session_link")
    assert f'href="{session_url}"' in link
    assert card.session.user.full_name in link

    unscored = SessionFactory(tenant=tenant)
    page = staff_client.get(f"/admin/roleplay/session/{unscored.pk}/change/").content.decode()
    assert _shown(page, "scorecard_link") == "no scorecard"


def test_a_scorecards_items_are_tables_and_still_editable(staff_client, tenant):
    card = ScorecardFactory(
        session__tenant=tenant,
        categories=[
            {"key": "discovery", "label": "Discovery", "score": 82, "feedback": "Asked <why>."}
        ],
        callouts=[{"kind": "improvement", "text": "Talked over the buyer.", "time": 41.5}],
    )
    body = staff_client.get(f"/admin/roleplay/scorecard/{card.pk}/change/").content.decode()
    tables = re.findall(r"<table>.*?</table>", body, flags=re.S)
    categories = next(t for t in tables if "Discovery" in t)
    assert "82" in categories and "Asked &lt;why&gt;." in categories
    callouts = next(t for t in tables if "Talked over the buyer." in t)
    assert "improvement" in callouts and "41.5" in callouts
    # The JSON stays the way to edit them, in a collapsed section below the tables.
    assert body.index("Talked over the buyer.</td>") < body.index('name="categories"')
    assert 'name="callouts"' in body


def test_an_invalid_json_edit_is_shown_open(staff_client, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    page = staff_client.get(f"/admin/roleplay/scorecard/{card.pk}/change/").content.decode()
    assert "<details>" in page[page.index("Edit categories and callouts") - 200 :]
    response = staff_client.post(
        f"/admin/roleplay/scorecard/{card.pk}/change/",
        {
            "overall_score": card.overall_score,
            "verdict": card.verdict,
            "headline": card.headline,
            "categories": '{"not": "a list"}',
            "callouts": "[]",
            "created_at_0": card.created_at.strftime("%Y-%m-%d"),
            "created_at_1": card.created_at.strftime("%H:%M:%S"),
        },
    )
    body = response.content.decode()
    assert response.status_code == 200 and "categories: must be a list" in body
    assert "<details>" not in body[body.index('id="scorecard_form"') :]


def test_the_session_list_shows_the_operators_columns_first(staff_client, tenant):
    ScorecardFactory(session__tenant=tenant, session__duration_seconds=425, overall_score=91)
    body = staff_client.get("/admin/roleplay/session/").content.decode()
    start = body.index('<table id="result_list">')
    head = body[start : body.index("</thead>", start)]
    columns = [
        " ".join(re.sub(r"<[^>]+>", " ", cell).split())
        for cell in re.findall(r'<th scope="col".*?</th>', head, flags=re.S)
    ]
    assert columns[1:7] == ["Started at", "Rep", "Scenario", "Status", "Duration", "Score"]
    assert len(columns) <= 8  # with the checkbox and the tenant
    assert "7:05" in body
    assert "91 · Solid" in body


def _list_queries(staff_client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get("/admin/roleplay/session/")
    assert response.status_code == 200
    return len(queries)


def test_the_session_list_costs_the_same_for_1_or_20_sessions(staff_client, tenant):
    ScorecardFactory(session__tenant=tenant)
    one = _list_queries(staff_client)
    # Each with its own rep and scenario, half of them scored: nothing per row may be fetched.
    for n in range(19):
        if n % 2:
            ScorecardFactory(session__tenant=tenant)
        else:
            SessionFactory(tenant=tenant, scenario=ScenarioFactory(tenant=tenant))
    twenty = _list_queries(staff_client)
    assert twenty == one
