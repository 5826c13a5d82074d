"""What operators save in admin keeps the contract's invariants: no row points across tenants,
a session is scored exactly when it has a scorecard, and a scorecard's items follow the import
format's rules. Found by a contract review: admin stored all three kinds of drift."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from analytics.selectors import summary, summary_plain
from roleplay.models import Scorecard, Session
from tests.factories import RepFactory, ScenarioFactory, ScorecardFactory, SessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("op", "op@example.test", "pw"))
    return client


def _session_form(session: Session, **changes) -> dict:
    form = {
        "tenant": session.tenant_id,
        "user": session.user_id,
        "scenario": session.scenario_id,
        "status": session.status,
        "started_at_0": session.started_at.strftime("%Y-%m-%d"),
        "started_at_1": session.started_at.strftime("%H:%M:%S"),
        "ended_at_0": "",
        "ended_at_1": "",
        "duration_seconds": "",
    }
    return {**form, **changes}


def _scorecard_form(card: Scorecard, **changes) -> dict:
    form = {
        "tenant": card.tenant_id,
        "session": card.session_id,
        "overall_score": card.overall_score,
        "verdict": card.verdict,
        "headline": card.headline,
        "categories": '[{"key": "k", "label": "L", "score": 80, "feedback": ""}]',
        "callouts": "[]",
        "created_at_0": card.created_at.strftime("%Y-%m-%d"),
        "created_at_1": card.created_at.strftime("%H:%M:%S"),
    }
    return {**form, **changes}


def _everything_agrees(tenant) -> None:
    span = {
        "started_from": datetime(2000, 1, 1, tzinfo=UTC),
        "started_to": datetime(2100, 1, 1, tzinfo=UTC),
    }
    assert summary(tenant=tenant, **span) == summary_plain(tenant=tenant, **span)
    for session in Session.unscoped.filter(tenant=tenant):
        assert (session.status == Session.Status.SCORED) == hasattr(session, "scorecard")


def test_a_session_cannot_point_at_another_tenants_rep_or_scenario(
    staff_client, tenant, other_tenant
):
    session = SessionFactory(tenant=tenant)
    theirs = {
        "user": RepFactory(tenant=other_tenant).pk,
        "scenario": ScenarioFactory(tenant=other_tenant).pk,
    }
    for field, their_id in theirs.items():
        response = staff_client.post(
            f"/admin/roleplay/session/{session.pk}/change/",
            _session_form(session, **{field: their_id}),
        )
        assert response.status_code == 200  # the form again, with the error
        assert "belongs to another tenant" in response.content.decode()
        session.refresh_from_db()
        assert getattr(session, f"{field}_id") != their_id
    added = staff_client.post(
        "/admin/roleplay/session/add/", _session_form(session, user=theirs["user"])
    )
    assert "belongs to another tenant" in added.content.decode()
    assert Session.unscoped.count() == 1


def test_a_session_added_in_admin_is_created_when_it_started(staff_client, tenant):
    template = SessionFactory(tenant=tenant)
    response = staff_client.post("/admin/roleplay/session/add/", _session_form(template))
    assert response.status_code == 302
    added = Session.unscoped.exclude(pk=template.pk).get()
    assert added.created_at == added.started_at


def test_tenant_and_a_scorecards_session_are_fixed_once_created(staff_client, tenant, other_tenant):
    card = ScorecardFactory(session__tenant=tenant)
    other_session = SessionFactory(tenant=tenant)
    page = staff_client.get(f"/admin/roleplay/scorecard/{card.pk}/change/").content.decode()
    assert 'name="tenant"' not in page and 'name="session"' not in page
    response = staff_client.post(
        f"/admin/roleplay/scorecard/{card.pk}/change/",
        _scorecard_form(card, tenant=other_tenant.pk, session=other_session.pk),
    )
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.tenant_id, card.session_id) == (tenant.pk, card.session.pk)
    session_page = staff_client.get(f"/admin/roleplay/session/{other_session.pk}/change/")
    assert 'name="tenant"' not in session_page.content.decode()
    _everything_agrees(tenant)


def test_status_and_scorecard_agree(staff_client, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    plain = SessionFactory(tenant=tenant)
    unscore = staff_client.post(
        f"/admin/roleplay/session/{card.session.pk}/change/",
        _session_form(card.session, status="completed"),
    )
    assert "has a scorecard" in unscore.content.decode()
    score = staff_client.post(
        f"/admin/roleplay/session/{plain.pk}/change/", _session_form(plain, status="scored")
    )
    assert "adding one scores it" in score.content.decode()
    _everything_agrees(tenant)

    # Adding a scorecard scores its session; deleting it leaves the session completed.
    added = staff_client.post(
        "/admin/roleplay/scorecard/add/", _scorecard_form(card, session=plain.pk)
    )
    assert added.status_code == 302
    plain.refresh_from_db()
    assert plain.status == Session.Status.SCORED
    _everything_agrees(tenant)
    new_card = plain.scorecard
    deleted = staff_client.post(f"/admin/roleplay/scorecard/{new_card.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    plain.refresh_from_db()
    assert plain.status == Session.Status.COMPLETED
    _everything_agrees(tenant)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("categories", '[{"key": "k", "label": "L", "score": 500}]', "categories[0].score"),
        ("categories", '{"not": "a list"}', "categories: must be a list"),
        ("callouts", '[{"kind": "meh", "text": "t"}]', "callouts[0].kind"),
    ],
)
def test_scorecard_items_follow_the_import_rules(staff_client, tenant, field, value, message):
    card = ScorecardFactory(session__tenant=tenant)
    before = (card.categories, card.callouts)
    response = staff_client.post(
        f"/admin/roleplay/scorecard/{card.pk}/change/", _scorecard_form(card, **{field: value})
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    card.refresh_from_db()
    assert (card.categories, card.callouts) == before


def test_deleting_a_session_in_admin_keeps_the_rollups_exact(staff_client, tenant):
    card = ScorecardFactory(session__tenant=tenant)
    SessionFactory(tenant=tenant, user=card.session.user, started_at=card.session.started_at)
    deleted = staff_client.post(
        f"/admin/roleplay/session/{card.session_id}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not Scorecard.unscoped.exists()
    _everything_agrees(tenant)


@pytest.mark.parametrize("model", ["session", "scorecard"])
def test_delete_selected_in_admin_keeps_status_and_rollups(staff_client, tenant, model):
    cards = [ScorecardFactory(session__tenant=tenant) for _ in range(3)]
    SessionFactory(tenant=tenant)
    chosen = [cards[0], cards[1]] if model == "scorecard" else [c.session for c in cards[:2]]
    response = staff_client.post(
        f"/admin/roleplay/{model}/",
        {"action": "delete_selected", "_selected_action": [o.pk for o in chosen], "post": "yes"},
    )
    assert response.status_code == 302
    assert Scorecard.unscoped.count() == 1
    expected = 4 if model == "scorecard" else 2
    assert Session.unscoped.count() == expected
    _everything_agrees(tenant)
