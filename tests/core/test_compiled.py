"""core/compiled.py: a query compiled once and re-bound returns what the ORM returns."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import compiled
from roleplay import selectors
from roleplay.models import Session
from roleplay.selectors import scorecard_get
from roleplay.shapes import SESSION_LISTED
from tenants.authentication import _token_by_hash
from tenants.models import ApiToken
from tenants.scoping import UnscopedQueryError
from tenants.tokens import hash_token
from tests.factories import RepFactory, ScenarioFactory, ScorecardFactory, SessionFactory
from tests.helpers import db_property

T0 = datetime(2026, 5, 6, 17, 0, tzinfo=UTC)
STATUSES = list(Session.Status.values)


def _plain(values):
    """The same read through the ORM, built with the real values."""
    return {name: value for name, (_field, value) in values.items()}


@pytest.fixture
def data(tenant, other_tenant):
    reps = [RepFactory(tenant=tenant) for _ in range(2)]
    scenarios = [ScenarioFactory(tenant=tenant) for _ in range(2)]
    for i in range(12):
        SessionFactory(
            tenant=tenant,
            user=reps[i % 2],
            scenario=scenarios[i // 6],
            status=STATUSES[i % len(STATUSES)],
            started_at=T0 - timedelta(minutes=i // 3),  # ties in threes
        )
    SessionFactory(tenant=other_tenant, started_at=T0)
    return tenant, reps, scenarios


# Every column a page of sessions can have: expand=scorecard,transcript (joins included).
EXPANDED_COLUMNS = SESSION_LISTED.columns(frozenset({"scorecard", "transcript"}))


@db_property(60)
@given(
    use=st.fixed_dictionaries(
        {},
        optional={
            "started_from": st.integers(0, 5),
            "started_to": st.integers(0, 5),
            "user_id": st.integers(0, 1),
            "scenario_id": st.integers(0, 1),
            "status": st.sampled_from(STATUSES),
            "cursor_at": st.integers(0, 5),
        },
    ),
    cursor_tie=st.booleans(),
    limit=st.integers(1, 15),
)
def test_session_list_equals_the_orm_for_every_shape(data, use, cursor_tie, limit):
    tenant, reps, scenarios = data
    minutes = {k: T0 - timedelta(minutes=v) for k, v in use.items() if k.startswith(("start", "c"))}
    raw = {
        "tenant": tenant.pk,
        **minutes,
        "user_id": reps[use["user_id"]].pk if "user_id" in use else None,
        "scenario_id": scenarios[use["scenario_id"]].pk if "scenario_id" in use else None,
        "status": use.get("status"),
    }
    if "cursor_at" in use and cursor_tie:
        some = Session.objects.for_tenant(tenant).filter(started_at=raw["cursor_at"]).first()
        raw["cursor_id"] = some.pk if some else None
    values = selectors._bind(**raw)

    def build(v, limit):
        return (
            selectors._sessions(v)
            .order_by("-started_at", "-id")
            .values(**EXPANDED_COLUMNS)[: limit + 1]
        )

    fast = compiled.rows(build, values, limit=limit)
    assert fast == list(build(_plain(values), limit))
    # And again: the second call takes the cached SQL with these values bound.
    assert compiled.rows(build, values, limit=limit) == fast


def test_scorecard_and_session_detail_see_only_their_tenant(tenant, other_tenant):
    card = ScorecardFactory(session__tenant=tenant)
    other = ScorecardFactory(session__tenant=other_tenant)

    assert scorecard_get(tenant=tenant, scorecard_id=card.pk)["w_id"] == str(card.pk)
    assert scorecard_get(tenant=tenant, scorecard_id=other.pk) is None
    assert selectors.session_get(tenant=tenant, session_id=card.session_id) is not None
    assert selectors.session_get(tenant=tenant, session_id=other.session_id) is None


def test_token_lookup_converts_like_the_orm(tenant, make_token):
    """Datetimes, JSON scopes and the tenant come back as the ORM would build them."""
    raw = make_token(tenant, ["sessions:read"], expires_at=T0 + timedelta(days=400))
    for _ in range(2):  # compiled on the first call, bound on the second
        fast = _token_by_hash(hash_token(raw))
        orm = ApiToken.objects.select_related("tenant").get(token_hash=hash_token(raw))
        assert fast.pk == orm.pk and fast.scopes == orm.scopes == ["sessions:read"]
        assert fast.expires_at == orm.expires_at and fast.created_at == orm.created_at
        assert fast.tenant == orm.tenant and fast.tenant.is_active is True
    other = raw[:-1] + ("y" if raw.endswith("x") else "x")  # another token, never the same
    assert _token_by_hash(hash_token(other)) is None


def test_an_unscoped_queryset_is_refused(db):
    with pytest.raises(UnscopedQueryError):
        compiled.rows(
            lambda v: Session.objects.filter(id=v["id"]).values("id"),
            {"id": (Session._meta.get_field("id"), uuid.uuid4())},
        )


def test_a_builder_that_captures_a_value_is_refused(tenant):
    """A captured value would be baked into SQL reused for requests without it: refused, so
    only placeholders and shape keywords (both part of the key) can reach the SQL."""
    status = "scored"
    field = Session._meta.get_field

    def captures(v):
        return Session.objects.for_tenant(v["tenant"]).filter(status=status).values("id")

    def defaults(v, status=status):
        return Session.objects.for_tenant(v["tenant"]).filter(status=status).values("id")

    for build in (captures, defaults):
        with pytest.raises(TypeError, match="captures"):
            compiled.rows(build, {"tenant": (field("tenant"), tenant.pk)})


def test_the_shape_keys_the_compiled_sql(tenant):
    """The same builder with another shape value gets SQL built for that value."""
    field = Session._meta.get_field
    for i in range(3):
        SessionFactory(tenant=tenant, started_at=T0 - timedelta(minutes=i))

    def page(v, size):
        return Session.objects.for_tenant(v["tenant"]).order_by("id").values("id")[:size]

    values = {"tenant": (field("tenant"), tenant.pk)}
    assert [len(compiled.rows(page, values, size=n)) for n in (1, 2, 3, 1)] == [1, 2, 3, 1]
