"""Adding a scorecard scores its session, deleting it leaves the session completed; either way
the rollups of the session's day follow, in the same transaction."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from roleplay.models import Scorecard, Session, TenantDay
from roleplay.rollups import recompute_all
from roleplay.scoring import scorecard_bulk_delete, scorecard_delete, scorecard_upsert
from roleplay.verdicts import VERDICT_BANDS, verdict_for
from tests.factories import ScorecardFactory, SessionFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _day():
    return TenantDay.unscoped.values_list("sessions", "scored", "score_total").get(day=T0.date())


def test_adding_a_scorecard_scores_its_session_and_counts_on_its_day():
    session = SessionFactory(started_at=T0)
    assert _day() == (1, 0, 0)
    card = ScorecardFactory.build(session=session, tenant=session.tenant, overall_score=64)
    scorecard_upsert(scorecard=card)
    assert Session.unscoped.get(pk=session.pk).status == Session.Status.SCORED
    assert session.status == Session.Status.SCORED  # the caller's instance too
    assert _day() == (1, 1, 64)
    card.overall_score = 90
    scorecard_upsert(scorecard=card)
    assert _day() == (1, 1, 90)


def test_deleting_a_scorecard_leaves_its_session_completed_and_the_day_exact():
    card = ScorecardFactory(session__started_at=T0, overall_score=70)
    other = ScorecardFactory(session__tenant=card.tenant, session__started_at=T0)
    assert _day() == (2, 2, 150)
    scorecard_delete(scorecard=card)
    assert Session.unscoped.get(pk=card.session_id).status == Session.Status.COMPLETED
    assert _day() == (2, 1, 80)
    scorecard_bulk_delete(scorecards=Scorecard.unscoped.filter(pk=other.pk))
    assert Session.unscoped.get(pk=other.session_id).status == Session.Status.COMPLETED
    assert _day() == (2, 0, 0)
    maintained = list(TenantDay.unscoped.values_list("day", "sessions", "scored", "score_total"))
    recompute_all()
    assert maintained == list(
        TenantDay.unscoped.values_list("day", "sessions", "scored", "score_total")
    )


def test_a_scorecard_never_moves_to_another_session():
    card = ScorecardFactory()
    card.session = SessionFactory(tenant=card.tenant)
    with pytest.raises(ValidationError, match="cannot change"):
        scorecard_upsert(scorecard=card)


def test_a_scorecard_points_at_a_session_of_its_tenant():
    session = SessionFactory()
    card = ScorecardFactory.build(session=session, tenant=SessionFactory().tenant)
    with pytest.raises(ValidationError, match="another tenant"):
        scorecard_upsert(scorecard=card)
    assert not Scorecard.unscoped.exists()


def test_the_verdict_rule_names_the_models_verdicts():
    assert {verdict for _, verdict in VERDICT_BANDS} == set(Scorecard.Verdict.values)
    scores = {0: "missed_the_mark", 49: "missed_the_mark", 50: "needs_work", 69: "needs_work"}
    scores |= {70: "solid", 84: "solid", 85: "crushed_it", 100: "crushed_it"}
    assert {score: verdict_for(score) for score in scores} == scores
