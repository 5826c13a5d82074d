"""core/compiled.py: a query compiled once and re-bound returns what the ORM returns."""

import ast
import itertools
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from core import compiled
from roleplay import selectors
from roleplay.models import Session
from roleplay.selectors import scorecard_get
from roleplay.services import session_delete
from roleplay.shapes import SESSION_LISTED
from tenants.authentication import _token_by_hash
from tenants.models import ApiToken
from tenants.scoping import UnscopedQueryError
from tenants.tokens import hash_token
from tests.factories import RepFactory, ScenarioFactory, ScorecardFactory, SessionFactory
from tests.helpers import db_property
from tests.live import ROOT

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
        with pytest.raises(compiled.NotCompiled, match=rf"\.{build.__name__} .*captures"):
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


# --- Refusals: only the builder's arguments may reach the compiled SQL -----------------------

_TICKS = itertools.count()


def _tenant_value(tenant):
    return {"tenant": (Session._meta.get_field("tenant"), tenant.pk)}


def reads_a_global(v):
    return Session.objects.for_tenant(v["tenant"]).filter(status=f"s{next(_TICKS)}").values("id")


def reads_the_clock(v):
    return (
        Session.objects.for_tenant(v["tenant"]).filter(started_at__lte=timezone.now()).values("id")
    )


def changes_a_value(v):
    """Compares with the value and with the value moved by a day: the second would have been
    kept as a constant, the placeholder's own, and every later call would have bound it."""
    return (
        Session.objects.for_tenant(v["tenant"])
        .filter(started_at__gte=v["from"], started_at__lt=v["from"] + timedelta(days=1))
        .values("id")
    )


def test_a_builder_that_reads_a_global_or_the_clock_is_refused(tenant):
    """Built twice with fresh placeholders, its SQL differs by more than theirs: refused, naming
    the builder and why, where it used to bake the first build's value into every later run."""
    started = {"from": (Session._meta.get_field("started_at"), T0)}
    for build, values, why in [
        (reads_a_global, {}, r"constant .* \('s\d+', then 's\d+'\): it reads"),
        (reads_the_clock, {}, r"constant .* differs between two builds .* reads the clock"),
        (changes_a_value, started, r"constant .* changes a value before use"),
    ]:
        with pytest.raises(compiled.NotCompiled, match=rf"\.{build.__name__} .*{why}"):
            compiled.rows(build, {**_tenant_value(tenant), **values})
        assert "differs" in compiled.builders()[f"{__name__}.{build.__name__}"]


def test_an_unused_placeholder_is_refused(tenant):
    def ignores_status(v):
        return Session.objects.for_tenant(v["tenant"]).values("id")

    values = {**_tenant_value(tenant), "status": (Session._meta.get_field("status"), "scored")}
    with pytest.raises(compiled.NotCompiled, match=r"ignores_status .*\['status'\]"):
        compiled.rows(ignores_status, values)


def _fallbacks(name: str) -> float:
    return REGISTRY.get_sample_value("api_compiled_query_fallbacks_total", {"builder": name}) or 0


def test_in_production_a_refused_builder_runs_through_the_orm_logged_once_and_counted(
    tenant, settings, caplog
):
    settings.COMPILED_QUERIES_STRICT = False
    compiled.clear()
    session = SessionFactory(tenant=tenant, started_at=T0 - timedelta(days=1))
    status = session.status

    def captures(v):
        return Session.objects.for_tenant(v["tenant"]).filter(status=status).values("id")

    names = {build: f"{__name__}.{build.__qualname__}" for build in (reads_the_clock, captures)}
    before = {build: _fallbacks(name) for build, name in names.items()}
    with caplog.at_level(logging.WARNING, logger="core.compiled"):
        for _ in range(3):
            assert compiled.rows(reads_the_clock, _tenant_value(tenant)) == [{"id": session.pk}]
            assert compiled.rows(captures, _tenant_value(tenant)) == [{"id": session.pk}]
    for build, name in names.items():
        assert _fallbacks(name) == before[build] + 3
        logged = [r for r in caplog.records if r.name == "core.compiled" and r.builder == name]
        assert len(logged) == 1 and logged[0].levelno == logging.WARNING
        assert compiled.builders()[name] is not None


# --- The queryset's database, not "default" ----------------------------------------------


@pytest.fixture
def other(transactional_db):
    """A second alias, "other": another connection to the same (test) database."""
    default = connections["default"]
    connection = default.__class__({**default.settings_dict}, "other")
    connections["other"] = connection
    yield connection
    connection.close()
    del connections["other"]


def pinned(v):
    return Session.objects.for_tenant(v["tenant"]).using("other").order_by("id").values("id")


def routed(v):
    return Session.objects.for_tenant(v["tenant"]).order_by("id").values("id")


class _Router:
    target = "other"

    def db_for_read(self, model, **hints):
        return self.target


def _runs(build, tenant, connection) -> tuple[list, int, int]:
    """The rows, and how many queries ran on "default" and on ``connection``."""
    default = connections["default"]
    with CaptureQueriesContext(default) as on_default, CaptureQueriesContext(connection) as on:
        found = compiled.rows(build, _tenant_value(tenant))
    return found, len(on_default), len(on)


def test_the_querysets_database_is_used_not_default(tenant, other):
    ids = sorted(s.pk for s in SessionFactory.create_batch(2, tenant=tenant))
    expected = [{"id": pk} for pk in ids]
    for _ in range(2):  # compiled, then from the cache
        assert _runs(pinned, tenant, other) == (expected, 0, 1)


def test_a_routed_read_goes_where_the_routers_send_it_on_every_call(tenant, other, settings):
    ids = sorted(s.pk for s in SessionFactory.create_batch(2, tenant=tenant))
    expected = [{"id": pk} for pk in ids]
    to = _Router()
    settings.DATABASE_ROUTERS = [to]
    assert _runs(routed, tenant, other) == (expected, 0, 1)
    to.target = "default"  # a router whose answer changes (pinned after a write, say)
    assert _runs(routed, tenant, other) == (expected, 1, 0)
    to.target = "other"
    assert _runs(routed, tenant, other) == (expected, 0, 1)


# --- Every builder of the API compiles ---------------------------------------------------

APPS = ("config", "importing", "analytics", "roleplay", "sync", "tenants", "core")


class _Builders(ast.NodeVisitor):
    """The qualified name of the builder passed to each ``compiled.rows(...)`` of a module."""

    def __init__(self, module: str, tree: ast.Module):
        self.module, self.scope, self.found = module, [], []
        self.top = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        self.visit(tree)

    def _nested(self, node):
        self.scope.append(node.name if isinstance(node, ast.ClassDef) else f"{node.name}.<locals>")
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _nested

    def visit_Call(self, node: ast.Call):
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "rows"
            and isinstance(func.value, ast.Name)
            and func.value.id == "compiled"
        ):
            self.found.append(self._qualname(node.args[0]))
        self.generic_visit(node)

    def _qualname(self, builder: ast.expr) -> str:
        if isinstance(builder, ast.Name) and builder.id in self.top:
            return f"{self.module}.{builder.id}"
        name = "<lambda>" if isinstance(builder, ast.Lambda) else ast.unparse(builder)
        return ".".join([self.module, *self.scope, name])


def production_builders() -> list[str]:
    found, calls = [], 0
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or "history" in path.parts:
                continue
            source = path.read_text()
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found += _Builders(module, ast.parse(source)).found
            calls += len(re.findall(r"\bcompiled\.rows\((?!\))", source))  # prose: rows()
    assert len(found) == calls, "every compiled.rows(...) of the source is a call the scan read"
    return found


def test_every_builder_of_the_api_compiles(client_for, tenant, other_tenant):
    """Every endpoint once, with data: each builder in the source compiled, none refused."""
    builders = production_builders()
    assert len(builders) == len(set(builders)), "two builders share a name (and a metric label)"
    assert len(builders) >= 7  # the scan sees at least those there were when it was written

    reps = RepFactory.create_batch(2, tenant=tenant)
    scenario = ScenarioFactory(tenant=tenant)
    sessions = [
        SessionFactory(tenant=tenant, user=reps[i % 2], scenario=scenario, started_at=T0 - d)
        for i, d in enumerate(timedelta(hours=h) for h in (0, 5, 30, 50, 75, 100))
    ]
    card = ScorecardFactory(session__tenant=tenant, session__started_at=T0 - timedelta(hours=60))
    session_delete(session=sessions[-1])
    SessionFactory(tenant=other_tenant, started_at=T0)
    session, rep = sessions[0], reps[0]
    compiled.clear()
    fallbacks = {name: _fallbacks(name) for name in builders}

    api = client_for(tenant)
    # Partial days at both ends of the period: added at the head and subtracted at the tail
    # (analytics.selectors._edges), then the other way round.
    period = "from=2026-05-01T20:00:00Z&to=2026-05-06T20:00:00Z"
    urls = [
        "/api/v1/token",
        "/api/v1/sessions?limit=2",
        f"/api/v1/sessions?limit=100&expand=scorecard,transcript&user_id={rep.pk}"
        f"&scenario_id={scenario.pk}&status=completed&from=2026-05-01&to=2026-05-07",
        "/api/v1/sessions?updated_since=1970-01-01&expand=scorecard",
        f"/api/v1/sessions/{session.pk}",
        "/api/v1/scorecards",
        "/api/v1/scorecards?updated_since=1970-01-01",
        f"/api/v1/scorecards/{card.pk}",
        "/api/v1/scenarios",
        "/api/v1/scenarios?updated_since=1970-01-01",
        f"/api/v1/scenarios/{scenario.pk}",
        "/api/v1/users?include=email",
        "/api/v1/users?include=email&updated_since=1970-01-01",
        f"/api/v1/users/{rep.pk}?include=email",
        "/api/v1/deletions",
        f"/api/v1/analytics/summary?{period}",
        "/api/v1/analytics/summary?from=2026-05-01T04:00:00Z&to=2026-05-06T04:00:00Z",
        f"/api/v1/analytics/summary?{period}&scenario_id={scenario.pk}",
        f"/api/v1/analytics/summary?{period}&user_id={rep.pk}",
        f"/api/v1/analytics/breakdown?by=user,week&{period}",
    ]
    endpoints = set()
    for url in urls:
        response = api.get(url)
        assert response.status_code == 200, (url, response.content)
        endpoints.add(response.resolver_match.view_name)
        if "/sessions?limit=2" in url:  # and the next page, through the cursor
            cursor = response.json()["next_cursor"]
            following = api.get("/api/v1/sessions", {"limit": 2, "cursor": cursor})
            assert following.status_code == 200, following.content
    api_v1 = next(p for p in get_resolver().url_patterns if getattr(p, "namespace", "") == "api")
    documents = ("schema", "docs", "redoc")
    data = {f"api:{p.name}" for p in api_v1.url_patterns if p.name not in documents}
    assert endpoints == data, "a data endpoint this test does not call"

    seen = compiled.builders()
    assert set(builders) <= set(seen), f"never ran: {set(builders) - set(seen)}"
    assert {name: why for name, why in seen.items() if why is not None} == {}
    assert set(seen) == set(builders), "a builder outside the source scanned"
    assert fallbacks == {name: _fallbacks(name) for name in builders}
