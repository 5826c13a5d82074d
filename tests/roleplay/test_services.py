"""The write services keep the invariants themselves, without signals: the rollups follow every
session write, a session with a scorecard stays scored, rows stay within their tenant."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save

from analytics.selectors import summary, summary_plain
from roleplay.models import Rep, RepSpan, Scenario, ScenarioDay, Scorecard, Session, TenantDay
from roleplay.rollups import recompute_all
from roleplay.services import session_bulk_delete, session_delete, session_upsert
from tests.factories import RepFactory, ScorecardFactory, SessionFactory, TenantFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
EVERYTHING = {
    "started_from": datetime(2000, 1, 1, tzinfo=UTC),
    "started_to": datetime(2100, 1, 1, tzinfo=UTC),
}


def _rollups() -> tuple[list, list, list]:
    return (
        sorted(TenantDay.unscoped.values_list("tenant_id", "day", "sessions", "scored")),
        sorted(ScenarioDay.unscoped.values_list("scenario_id", "day", "sessions", "score_total")),
        sorted(RepSpan.unscoped.values_list("user_id", "first_started_at", "last_started_at")),
    )


def _exact() -> None:
    """The maintained rollups are those a rebuild from scratch makes."""
    maintained = _rollups()
    recompute_all()
    assert _rollups() == maintained


def test_no_model_signal_keeps_a_domain_rule():
    for model in (Rep, Scenario, Session, Scorecard):
        for signal in (pre_save, post_save, pre_delete, post_delete):
            assert not signal.has_listeners(model), (model, signal)


def test_a_session_moved_to_another_day_and_rep_moves_its_rollups():
    tenant = TenantFactory()
    a, b = RepFactory(tenant=tenant), RepFactory(tenant=tenant)
    session = ScorecardFactory(session__tenant=tenant, session__user=a, session__started_at=T0)
    session = session.session
    assert TenantDay.unscoped.get(day=T0.date()).sessions == 1
    session.started_at, session.ended_at, session.user = T0 + timedelta(days=3), None, b
    session_upsert(session=session)
    assert not TenantDay.unscoped.filter(day=T0.date()).exists()
    assert TenantDay.unscoped.get(day=(T0 + timedelta(days=3)).date()).scored == 1
    assert list(RepSpan.unscoped.values_list("user_id", flat=True)) == [b.id]
    _exact()


def test_a_session_with_a_scorecard_stays_scored():
    card = ScorecardFactory()
    session = Session.unscoped.get(pk=card.session_id)
    session.status = Session.Status.COMPLETED
    session_upsert(session=session)
    assert session.status == Session.Status.SCORED
    assert Session.unscoped.get(pk=card.session_id).status == Session.Status.SCORED


def test_a_session_stays_with_its_tenant_and_points_only_within_it():
    session = SessionFactory()
    other = TenantFactory()
    session.user = RepFactory(tenant=other)
    with pytest.raises(ValidationError, match="another tenant"):
        session_upsert(session=session)
    session = Session.unscoped.get(pk=session.pk)
    session.tenant = other
    with pytest.raises(ValidationError, match="cannot change"):
        session_upsert(session=session)
    assert Session.unscoped.get(pk=session.pk).tenant_id != other.id


def test_deleting_sessions_keeps_the_rollups_exact():
    tenant = TenantFactory()
    rep = RepFactory(tenant=tenant)
    cards = [
        ScorecardFactory(
            session__tenant=tenant, session__user=rep, session__started_at=T0 + timedelta(days=n)
        )
        for n in range(3)
    ]
    plain = SessionFactory(tenant=tenant, user=rep, started_at=T0 + timedelta(days=5))
    session_delete(session=cards[0].session)
    assert not Scorecard.unscoped.filter(pk=cards[0].pk).exists()  # went with its session
    _exact()
    session_bulk_delete(sessions=Session.unscoped.filter(pk__in=[cards[1].session_id, plain.pk]))
    _exact()
    assert summary(tenant=tenant, **EVERYTHING) == summary_plain(tenant=tenant, **EVERYTHING)
    assert summary(tenant=tenant, **EVERYTHING).sessions == 1
    span = RepSpan.unscoped.get(user=rep)
    assert span.first_started_at == span.last_started_at == T0 + timedelta(days=2)
