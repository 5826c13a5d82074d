"""The database itself enforces the contract's choices, ranges and tenant isolation."""

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from roleplay.models import Rep, Scorecard, Session
from tenants.scoping import UnscopedQueryError
from tests.factories import (
    RepFactory,
    ScenarioFactory,
    ScorecardFactory,
    SessionFactory,
    TenantFactory,
)
from tests.helpers import postgres_only

pytestmark = pytest.mark.django_db


def _refused(callable_):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def test_scorecard_score_out_of_range_is_refused():
    card = ScorecardFactory()
    _refused(lambda: Scorecard.unscoped.filter(pk=card.pk).update(overall_score=101))


def test_scorecard_bad_verdict_is_refused():
    card = ScorecardFactory()
    _refused(lambda: Scorecard.unscoped.filter(pk=card.pk).update(verdict="meh"))


def test_session_bad_status_is_refused():
    session = SessionFactory()
    _refused(lambda: Session.unscoped.filter(pk=session.pk).update(status="paused"))


def test_session_cannot_end_before_it_starts():
    session = SessionFactory()
    _refused(
        lambda: Session.unscoped.filter(pk=session.pk).update(
            ended_at=session.started_at.replace(year=2020)
        )
    )


def test_rep_bad_role_is_refused():
    rep = RepFactory()
    _refused(lambda: Rep.unscoped.filter(pk=rep.pk).update(role="boss"))


def test_one_scorecard_per_session():
    card = ScorecardFactory()
    _refused(lambda: ScorecardFactory(session=card.session, tenant=card.tenant, id=uuid.uuid4()))


@postgres_only
def test_raw_cross_tenant_insert_is_refused_by_postgres():
    ours, theirs = TenantFactory(), TenantFactory()
    our_scenario = ScenarioFactory(tenant=ours)
    their_rep = RepFactory(tenant=theirs)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO sessions_api_session
                (id, tenant_id, user_id, scenario_id, status, started_at, created_at, transcript)
            VALUES (%s, %s, %s, %s, 'completed', now(), now(), '[]')
            """,
            [uuid.uuid4(), ours.id, their_rep.id, our_scenario.id],
        )


@postgres_only
def test_raw_cross_tenant_scorecard_is_refused_by_postgres():
    session = SessionFactory(status="scored")
    other = TenantFactory()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scorecards_scorecard
                (id, tenant_id, session_id, overall_score, verdict, headline, categories,
                 callouts, created_at)
            VALUES (%s, %s, %s, 50, 'solid', 'h', '[]', '[]', now())
            """,
            [uuid.uuid4(), other.id, session.id],
        )


@postgres_only
def test_moving_a_session_to_another_tenant_is_refused():
    session = SessionFactory()
    other = TenantFactory()
    _refused(lambda: Session.unscoped.filter(pk=session.pk).update(tenant=other))


def test_same_tenant_rows_are_accepted():
    session = SessionFactory()
    stored = Session.unscoped.select_related("user", "scenario").get(pk=session.pk)
    assert stored.user.tenant_id == stored.tenant_id == stored.scenario.tenant_id
    session.full_clean()  # TenantOwned.clean agrees


def test_scoped_manager_refuses_to_run_unscoped():
    SessionFactory()
    with pytest.raises(UnscopedQueryError):
        list(Session.objects.all())
    with pytest.raises(UnscopedQueryError):
        Session.objects.count()


def test_scoped_manager_returns_only_the_tenants_rows():
    mine, theirs = SessionFactory(), SessionFactory()
    rows = list(Session.objects.for_tenant(mine.tenant).filter(status="completed"))
    assert [s.id for s in rows] == [mine.id]
    assert theirs.id not in {s.id for s in rows}


@postgres_only
@pytest.mark.parametrize(
    ("column", "table"),
    [
        ("user_id", "sessions_api_session"),
        ("scenario_id", "sessions_api_session"),
        ("tenant_id", "sessions_api_session"),
        ("session_id", "scorecards_scorecard"),
        ("tenant_id", "scorecards_scorecard"),
    ],
)
def test_a_reference_to_nothing_is_refused_at_once_without_the_deferred_keys(column, table):
    """Only the same-tenant keys guard these columns (no deferred single-column key left to
    check at COMMIT), and they refuse a missing row when the row is written."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f' "
            "AND condeferrable",
            [table],
        )
        assert cursor.fetchone()[0] == 0
    card = ScorecardFactory()
    session = card.session
    stored = Session if table == "sessions_api_session" else Scorecard
    row = session if stored is Session else card
    _refused(lambda: stored.unscoped.filter(pk=row.pk).update(**{column: uuid.uuid4()}))
