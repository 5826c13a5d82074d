"""Incremental sync over HTTP (docs/api-guide.md, Keep a copy in sync): updated_since on the
four lists, GET /deletions, and what import and admin do to them. The race under concurrent
writers is tests/sync/test_sync_race.py (PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from importing.importer import Importer
from roleplay.models import Rep, Scenario, Scorecard, Session
from roleplay.models import Scorecard as Card
from roleplay.scoring import scorecard_upsert
from roleplay.services import rep_upsert, scenario_upsert, session_upsert
from sync.models import Deletion
from tenants.models import Tenant
from tests.factories import ScenarioFactory, ScorecardFactory, SessionFactory
from tests.helpers import error_envelope, invalid_parameter
from tests.importing import lines as L

pytestmark = pytest.mark.django_db
EPOCH = "1970-01-01T00:00:00Z"
LISTS = ("sessions", "scorecards", "scenarios", "users")


def _sync(api, resource: str, since: str, limit: int = 100, **params) -> list[dict]:
    """Pages ``updated_since`` to the end, as a connector does."""
    items, cursor = [], None
    while True:
        query = {"updated_since": since, "limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        response = api.get(f"/api/v1/{resource}", query)
        assert response.status_code == 200, response.content
        body = response.json()
        items += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


def _deletions(api, since: str | None = None, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {
            **params,
            **({"since": since} if since else {}),
            **({"cursor": cursor} if cursor else {}),
        }
        response = api.get("/api/v1/deletions", query)
        assert response.status_code == 200, response.content
        items += response.json()["data"]
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
def acme_api(tmp_path, client_for):
    L.run_import(L.write_file(tmp_path, L.valid_file(), "first.jsonl"))
    return client_for(Tenant.objects.get(id=L.ACME))


def test_first_sync_returns_everything_oldest_change_first(acme_api):
    for resource in LISTS:
        items = _sync(acme_api, resource, EPOCH, limit=1)  # one per page: every cursor used
        keys = [(i["updated_at"], i["id"]) for i in items]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        full = acme_api.get(f"/api/v1/{resource}", {"limit": 100}).json()["data"]
        assert sorted(i["id"] for i in items) == sorted(i["id"] for i in full)


def test_incremental_sync_returns_exactly_what_changed(tmp_path, acme_api):
    since = {r: max(i["updated_at"] for i in _sync(acme_api, r, EPOCH)) for r in LISTS}
    changes = [
        # session 2: in progress -> completed; a backdated new session; user 2 renamed
        L.session(2, started_at="2026-05-06T17:00:00Z", status="completed"),
        L.session(4, started_at="2020-01-01T00:00:00Z"),
        L.user(2, role="manager", full_name="Renamed"),
        L.scorecard(1, overall_score=12, verdict="missed_the_mark"),
    ]
    L.run_import(L.write_file(tmp_path, [*L.valid_file(), *changes], "second.jsonl"))
    got = {r: _sync(acme_api, r, since[r]) for r in LISTS}
    changed = {
        "sessions": {L.session(2)["id"], L.session(4)["id"]},
        "users": {L.user(2)["id"]},
        "scorecards": {L.scorecard(1)["id"]},
        "scenarios": set(),
    }
    for resource in LISTS:
        assert {i["id"] for i in got[resource]} >= changed[resource]
        # Anything else is a record stamped exactly at the instant asked for (inclusive).
        assert all(
            i["updated_at"] == since[resource]
            for i in got[resource]
            if i["id"] not in changed[resource]
        )
    session_2 = next(i for i in got["sessions"] if i["id"] == L.session(2)["id"])
    assert session_2["status"] == "completed"


def test_an_unchanged_reimport_moves_no_updated_at_and_writes_no_tombstone(tmp_path, acme_api):
    def snapshot():
        return {
            r: sorted((i["id"], i["updated_at"]) for i in _sync(acme_api, r, EPOCH)) for r in LISTS
        }

    before = snapshot()
    L.run_import(L.write_file(tmp_path, L.valid_file(), "again.jsonl"))
    assert snapshot() == before
    assert not Deletion.unscoped.exists()


def test_the_same_session_changed_twice_comes_once_in_its_latest_state(tmp_path, acme_api):
    since = max(i["updated_at"] for i in _sync(acme_api, "sessions", EPOCH))
    for n, status in enumerate(("completed", "abandoned")):
        L.run_import(L.write_file(tmp_path, [L.session(2, status=status)], f"change{n}.jsonl"))
    changed = [i for i in _sync(acme_api, "sessions", since) if i["id"] == L.session(2)["id"]]
    assert [i["status"] for i in changed] == ["abandoned"]


def test_updated_since_combines_with_the_other_filters(acme_api):
    items = _sync(acme_api, "sessions", EPOCH, status="scored")
    assert [i["id"] for i in items] == [L.session(1)["id"]]
    assert _sync(acme_api, "users", EPOCH, role="manager")[0]["id"] == L.user(2)["id"]
    assert _sync(acme_api, "scorecards", EPOCH, verdict="solid") == []


def test_import_delete_lines_list_each_deletion_once_with_the_scorecard(tmp_path, acme_api):
    since = acme_api.get("/api/v1/sessions").json()["data"][0]["updated_at"]
    delete = {"type": "delete", "object": "session", "id": L.session(1)["id"], "tenant_id": L.ACME}
    L.run_import(L.write_file(tmp_path, [delete], "delete.jsonl"))
    deletions = _deletions(acme_api)
    assert sorted((d["object"], d["id"]) for d in deletions) == [
        ("scorecard", L.scorecard(1)["id"]),
        ("session", L.session(1)["id"]),
    ]
    # Gone from every list, detail and the summary.
    assert L.session(1)["id"] not in {i["id"] for i in _sync(acme_api, "sessions", EPOCH)}
    assert acme_api.get(f"/api/v1/sessions/{L.session(1)['id']}").status_code == 404
    assert acme_api.get(f"/api/v1/scorecards/{L.scorecard(1)['id']}").status_code == 404
    assert acme_api.get("/api/v1/scorecards").json()["data"] == []
    period = {"from": "2026-05-01", "to": "2026-05-31"}
    summary = acme_api.get("/api/v1/analytics/summary", period).json()["data"]
    assert summary["sessions"] == 1 and summary["scored"] == 0
    assert all(i["id"] != L.session(1)["id"] for i in _sync(acme_api, "sessions", since))
    # Re-importing the delete changes nothing: no error, the same tombstones.
    L.run_import(L.write_file(tmp_path, [delete], "delete-again.jsonl"))
    assert _deletions(acme_api) == deletions
    # Per kind, with that kind's scope only.
    assert [d["object"] for d in _deletions(acme_api, object="scorecard")] == ["scorecard"]


def test_deleting_a_scorecard_leaves_its_session_completed_and_changed(tmp_path, acme_api):
    since = max(i["updated_at"] for i in _sync(acme_api, "sessions", EPOCH))
    delete = {
        "type": "delete",
        "object": "scorecard",
        "id": L.scorecard(1)["id"],
        "tenant_id": L.ACME,
    }
    L.run_import(L.write_file(tmp_path, [delete], "delete.jsonl"))
    changed = {i["id"]: i for i in _sync(acme_api, "sessions", since)}
    session = changed[L.session(1)["id"]]
    assert session["status"] == "completed" and session["scorecard_id"] is None
    assert [d["object"] for d in _deletions(acme_api)] == ["scorecard"]


def test_delete_lines_that_cannot_apply_are_errors_and_nothing_is_written(tmp_path, acme_api):
    bad = [
        {"type": "delete", "object": "user", "id": L.user(1)["id"], "tenant_id": L.ACME},
        {"type": "delete", "object": "session", "id": str(uuid.uuid4()), "tenant_id": L.ACME},
        {"type": "delete", "object": "session", "id": L.session(3)["id"], "tenant_id": L.ACME},
        {"type": "delete", "object": "tenant", "id": L.ACME, "tenant_id": L.ACME},
        {"type": "delete", "object": "scenario", "id": "nope", "tenant_id": L.ACME},
    ]
    ok = {"type": "delete", "object": "session", "id": L.session(2)["id"], "tenant_id": L.ACME}
    message = L.run_import_failing(L.write_file(tmp_path, [ok, *bad], "bad.jsonl"))
    assert "line 2: id: user " in message and "still has 1 session;" in message
    assert "line 3: id: unknown session" in message
    assert "line 4: id: session" in message and "belongs to another tenant" in message
    assert "line 5: object: " in message
    assert "line 6: id: " in message
    assert Session.unscoped.filter(id=L.session(2)["id"]).exists()  # the good line rolled back
    assert not Deletion.unscoped.exists()


def test_a_deleted_id_created_again_is_a_change_not_a_deletion(tmp_path, acme_api):
    delete = {"type": "delete", "object": "session", "id": L.session(2)["id"], "tenant_id": L.ACME}
    L.run_import(L.write_file(tmp_path, [delete, L.session(2)], "recreate.jsonl"))
    assert _deletions(acme_api) == []
    assert L.session(2)["id"] in {i["id"] for i in _sync(acme_api, "sessions", EPOCH)}


def test_admin_style_service_writes_stamp_only_real_changes(tenant):

    scenario = ScenarioFactory(tenant=tenant)
    stamped = scenario.updated_at
    scenario_upsert(scenario=scenario)  # saved unchanged, as an admin form without edits
    scenario.refresh_from_db()
    assert scenario.updated_at == stamped
    scenario.name = "Renamed"
    scenario_upsert(scenario=scenario)
    scenario.refresh_from_db()
    assert scenario.updated_at > stamped


def test_retention_410_and_prune(tmp_path, acme_api, settings):
    old = (timezone.now() - timedelta(days=settings.DELETIONS_RETENTION_DAYS + 1)).isoformat()
    error_envelope(acme_api.get("/api/v1/deletions", {"since": old}), 410, "resync_required")
    delete = {"type": "delete", "object": "session", "id": L.session(2)["id"], "tenant_id": L.ACME}
    L.run_import(L.write_file(tmp_path, [delete], "delete.jsonl"))
    Deletion.unscoped.update(deleted_at=timezone.now() - timedelta(days=100))
    call_command("prune_deletions")
    assert not Deletion.unscoped.exists()


def test_other_tenants_changes_and_deletions_are_absent(tmp_path, client_for):
    L.run_import(L.write_file(tmp_path, L.valid_file(), "first.jsonl"))
    delete = {
        "type": "delete",
        "object": "session",
        "id": L.session(3)["id"],
        "tenant_id": L.GLOBEX,
    }
    L.run_import(L.write_file(tmp_path, [delete], "delete.jsonl"))
    acme = client_for(Tenant.objects.get(id=L.ACME))
    globex_ids = {L.session(3)["id"], L.user(3)["id"], L.scenario(2)["id"]}
    for resource in LISTS:
        assert not {i["id"] for i in _sync(acme, resource, EPOCH)} & globex_ids
    assert _deletions(acme) == []
    for path in (f"scenarios/{L.scenario(2)['id']}", f"users/{L.user(3)['id']}"):
        error_envelope(acme.get(f"/api/v1/{path}"), 404, "not_found")


def test_details_of_scenarios_and_users(acme_api, client_for):
    scenario = acme_api.get(f"/api/v1/scenarios/{L.scenario(1)['id']}").json()["data"]
    listed = acme_api.get("/api/v1/scenarios").json()["data"]
    assert scenario in listed
    user = acme_api.get(f"/api/v1/users/{L.user(1)['id']}", {"include": "email"}).json()["data"]
    assert user["email"] == "jordan1@acme.test"
    assert user in acme_api.get("/api/v1/users", {"include": "email"}).json()["data"]
    error_envelope(acme_api.get(f"/api/v1/users/{uuid.uuid4()}"), 404, "not_found")
    no_email = client_for(Tenant.objects.get(id=L.ACME), scopes=["users:read"])
    error_envelope(
        no_email.get(f"/api/v1/users/{L.user(1)['id']}", {"include": "email"}),
        403,
        "insufficient_scope",
    )


@pytest.mark.parametrize(
    ("path", "params", "scopes"),
    [
        ("scorecards", {}, ["sessions:read"]),
        ("deletions", {}, ["analytics:read"]),
        ("deletions", {"object": "session"}, ["scorecards:read"]),
        ("sessions", {"expand": "scorecard"}, ["sessions:read"]),
        (f"scenarios/{L.scenario(1)['id']}", {}, ["users:read"]),
        (f"users/{L.user(1)['id']}", {}, ["scenarios:read"]),
    ],
)
def test_missing_scope_is_403(acme_api, client_for, path, params, scopes):
    api = client_for(Tenant.objects.get(id=L.ACME), scopes=scopes)
    error_envelope(api.get(f"/api/v1/{path}", params), 403, "insufficient_scope")


def test_deletions_list_only_the_kinds_the_token_may_read(tmp_path, acme_api, client_for):
    delete = {"type": "delete", "object": "session", "id": L.session(1)["id"], "tenant_id": L.ACME}
    L.run_import(L.write_file(tmp_path, [delete], "delete.jsonl"))
    only_cards = client_for(Tenant.objects.get(id=L.ACME), scopes=["scorecards:read"])
    assert [d["object"] for d in _deletions(only_cards)] == ["scorecard"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("sessions", {"updated_since": "yesterday"}),
        ("sessions", {"updated_since": EPOCH, "cursor": "2026-05-06T17:00:00Z"}),
        ("sessions", {"expand": "scorecard,nope"}),
        ("scorecards", {"updated_since": "2026-13-01"}),
        ("scorecards", {"cursor": "garbage"}),
        ("scorecards", {"verdict": "great"}),
        ("scorecards", {"from": "2026-05-02", "to": "2026-05-01"}),
        ("scorecards", {"user_id": "nope"}),
        ("scenarios", {"updated_since": "x"}),
        ("scenarios", {"updated_since": EPOCH, "cursor": "bm9wZQ"}),
        ("users", {"updated_since": "1", "role": "rep"}),
        ("deletions", {"since": "x"}),
        ("deletions", {"object": "tenant"}),
        ("deletions", {"cursor": "x"}),
        ("deletions", {"limit": "0"}),
        (f"users/{L.user(1)['id']}", {"include": "phone"}),
    ],
)
def test_malformed_parameters_are_400(acme_api, path, params):
    invalid_parameter(acme_api.get(f"/api/v1/{path}", params))


def test_scorecard_list_order_filters_and_paging(tmp_path, client_for):
    records = [L.tenant(), L.user(1), L.user(2), L.scenario(1), L.scenario(2)]
    for n in range(1, 8):
        records += [
            L.session(
                n,
                user_n=1 + n % 2,
                scenario_n=1 + n % 2,
                status="scored",
                started_at=f"2026-05-0{1 + n // 2}T10:00:00Z",  # pairs share an instant
                ended_at=None,
            ),
            L.scorecard(n, verdict="solid" if n % 3 else "needs_work", overall_score=70),
        ]
    L.run_import(L.write_file(tmp_path, records, "cards.jsonl"))
    api = client_for(Tenant.objects.get(id=L.ACME))
    pages, cursor = [], None
    while True:
        body = api.get("/api/v1/scorecards", {"limit": 2, **({"cursor": cursor} if cursor else {})})
        pages += body.json()["data"]
        if (cursor := body.json()["next_cursor"]) is None:
            break
    started = {s["id"]: s["started_at"] for s in (r for r in records if r["type"] == "session")}
    expected = sorted(pages, key=lambda c: (started[c["session_id"]], c["id"]), reverse=True)
    assert pages == expected and len(pages) == 7
    only = api.get(
        "/api/v1/scorecards",
        {"verdict": "needs_work", "user_id": L.user(1)["id"], "from": "2026-05-02"},
    ).json()["data"]
    assert {c["id"] for c in only} == {L.scorecard(6)["id"]}
    assert all(c["verdict"] == "needs_work" for c in only)
    assert {
        c["id"] for c in api.get("/api/v1/scorecards", {"to": "2026-05-01"}).json()["data"]
    } == {L.scorecard(1)["id"]}


def test_expand_inlines_scorecard_and_transcript_in_constant_queries(tmp_path, client_for):
    records = [L.tenant(), L.user(1), L.scenario(1)]
    for n in range(1, 31):
        scored = n % 2 == 0
        records.append(
            L.session(
                n,
                status="scored" if scored else "completed",
                started_at=f"2026-05-06T{n % 24:02d}:00:00Z",
                ended_at=None,
            )
        )
        if scored:
            records.append(L.scorecard(n))
    L.run_import(L.write_file(tmp_path, records, "expand.jsonl"))
    api = client_for(Tenant.objects.get(id=L.ACME))

    def page(limit, expand, **more):
        with CaptureQueriesContext(connection) as queries:
            body = api.get("/api/v1/sessions", {"limit": limit, "expand": expand, **more}).json()
        return body["data"], len(queries)

    for more in ({}, {"updated_since": EPOCH}):
        page(2, "scorecard,transcript", **more)  # warm: the token's first use, compiled SQL
        _, few = page(1, "scorecard,transcript", **more)
        large, many = page(30, "scorecard,transcript", **more)
        assert few == many and len(large) == 30
        for item in large:
            detail = api.get(f"/api/v1/sessions/{item['id']}").json()["data"]
            assert item["transcript"] == detail["transcript"]
            if detail["scorecard_id"] is None:
                assert item["scorecard"] is None
            else:
                card = api.get(f"/api/v1/scorecards/{detail['scorecard_id']}").json()["data"]
                assert item["scorecard"] == card
    plain, _ = page(5, "transcript")
    assert all("scorecard" not in i and "transcript" in i for i in plain)
    bare = api.get("/api/v1/sessions", {"limit": 5}).json()["data"]
    assert all("scorecard" not in i and "transcript" not in i for i in bare)


@pytest.fixture
def staff_client(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("op", "op@example.test", "pw"))
    return client


def test_admin_deletions_are_listed_in_the_same_transaction(staff_client, api, tenant):

    card = ScorecardFactory(session__tenant=tenant)
    plain = SessionFactory(tenant=tenant)
    response = staff_client.post(
        f"/admin/roleplay/session/{card.session_id}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    response = staff_client.post(
        "/admin/roleplay/session/",
        {"action": "delete_selected", "_selected_action": [plain.pk], "post": "yes"},
    )
    assert response.status_code == 302
    listed = {(d["object"], d["id"]) for d in _deletions(api)}
    assert listed == {
        ("session", str(card.session_id)),
        ("scorecard", str(card.pk)),
        ("session", str(plain.pk)),
    }
    assert not Session.unscoped.filter(pk__in=[card.session_id, plain.pk]).exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="only PostgreSQL has a transaction start"
)
def test_an_import_of_new_scored_sessions_does_not_rewrite_them_for_their_scorecards(tmp_path):
    """Each session is written once: stamped in its batch, not again when its scorecard comes
    in a later batch of the same transaction (no reader has seen the first stamp)."""
    records = [L.tenant(), L.user(1), L.scenario(1), L.session(1, status="scored"), L.scorecard(1)]
    Importer(batch_size=1).run(L.to_bytes([r]).rstrip(b"\n") for r in records)
    session = Session.unscoped.get(id=L.session(1)["id"])
    scorecard = Scorecard.unscoped.get(id=L.scorecard(1)["id"])
    assert session.updated_at < scorecard.updated_at
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'sessions_api_session'"
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.parametrize("through", ["import", "services"])
def test_another_tenants_write_of_a_reused_id_leaves_this_tenants_deletions_as_they_were(
    tmp_path, acme_api, through
):
    """Found by a review: tombstones were forgotten by (object, id) alone, so a tenant that
    reused an id another tenant had deleted erased it from that tenant's feed."""
    gone = [L.scorecard(1), L.session(1), L.session(2), L.scenario(1), L.user(1), L.user(2)]
    deletes = [
        {"type": "delete", "object": r["type"], "id": r["id"], "tenant_id": L.ACME} for r in gone
    ]
    L.run_import(L.write_file(tmp_path, deletes, "delete.jsonl"))
    before = _deletions(acme_api)
    assert {d["object"] for d in before} == {"scorecard", "session", "scenario", "user"}
    # Globex now holds records under the very ids Acme deleted, of every kind.
    reused = [
        L.user(1, tenant_id=L.GLOBEX),
        L.scenario(1, tenant_id=L.GLOBEX),
        L.session(1, tenant_id=L.GLOBEX, status="scored"),
        L.scorecard(1, tenant_id=L.GLOBEX),
    ]
    if through == "import":
        L.run_import(L.write_file(tmp_path, reused, "reuse.jsonl"))
    else:
        globex = Tenant.objects.get(id=L.GLOBEX)
        rep = rep_upsert(rep=Rep(id=L.user(1)["id"], tenant=globex, full_name="Reused"))
        scenario = scenario_upsert(
            scenario=Scenario(
                id=L.scenario(1)["id"], tenant=globex, name="Reused", created_at=timezone.now()
            )
        )
        session = session_upsert(
            session=Session(
                id=L.session(1)["id"],
                tenant=globex,
                user=rep,
                scenario=scenario,
                status="completed",
                started_at=timezone.now(),
            )
        )
        scorecard_upsert(
            scorecard=Card(
                id=L.scorecard(1)["id"],
                tenant=globex,
                session=session,
                overall_score=50,
                verdict="solid",
                created_at=timezone.now(),
            )
        )
    assert Session.unscoped.filter(id=L.session(1)["id"], tenant_id=L.GLOBEX).exists()
    assert _deletions(acme_api) == before
    # Acme reusing its own deleted id still supersedes its own tombstone.
    L.run_import(L.write_file(tmp_path, [L.user(2)], "recreate.jsonl"))
    assert L.user(2)["id"] not in {d["id"] for d in _deletions(acme_api)}
    assert len(_deletions(acme_api)) == len(before) - 1
