"""The outbox is the write path: every write records its events in its own transaction, once per
object per transaction in its final state, each payload equal to the API's object."""

from __future__ import annotations

import orjson
import pytest
from django.db import transaction

from roleplay.models import Session
from roleplay.scoring import scorecard_delete
from roleplay.services import scenario_upsert, session_bulk_delete, session_upsert
from tenants.models import Tenant
from tests.factories import ScenarioFactory, ScorecardFactory, SessionFactory, TenantFactory
from tests.importing import lines as L
from webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_disable

pytestmark = pytest.mark.django_db


def _events(**filters) -> list[tuple[str, str]]:
    return sorted(
        (e.type, str(e.object_id)) for e in WebhookEvent.unscoped.filter(**filters).order_by()
    )


@pytest.fixture
def acme(tmp_path) -> Tenant:
    """The import's two tenants, stored before anything subscribes."""
    L.run_import(L.write_file(tmp_path, [L.tenant(L.ACME), L.tenant(L.GLOBEX)], "t.jsonl"))
    return Tenant.objects.get(pk=L.ACME)


def test_an_import_records_one_created_event_per_object_in_its_final_state(
    acme, subscribe, client_for, tmp_path
):
    subscribe(acme)
    L.run_import(L.write_file(tmp_path, L.valid_file()))
    assert _events() == sorted(
        [
            ("user.created", L.user(1)["id"]),
            ("user.created", L.user(2)["id"]),
            ("scenario.created", L.scenario(1)["id"]),
            ("session.created", L.session(1)["id"]),
            ("session.created", L.session(2)["id"]),
            ("scorecard.created", L.scorecard(1)["id"]),
        ]
    ), "Globex has no endpoint: none of its changes is recorded"
    api = client_for(acme)
    for event in WebhookEvent.unscoped.all():
        kind = event.type.split(".")[0]
        path = {"user": "users", "scenario": "scenarios", "session": "sessions"}.get(
            kind, "scorecards"
        )
        shown = api.get(f"/api/v1/{path}/{event.object_id}").json()["data"]
        shown.pop("transcript", None)  # a session's event carries no transcript
        assert orjson.loads(event.data) == shown, event.type
    scored = WebhookEvent.unscoped.get(object_id=L.session(1)["id"])
    assert orjson.loads(scored.data)["status"] == "scored"
    assert orjson.loads(scored.data)["scorecard_id"] == L.scorecard(1)["id"]
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 6


@pytest.mark.django_db(transaction=True)  # each import its own transaction, as in production
def test_a_reimport_that_changes_nothing_records_nothing_and_a_change_one_update(
    acme, subscribe, tmp_path
):
    subscribe(acme)
    path = L.write_file(tmp_path, L.valid_file())
    L.run_import(path)
    before = WebhookEvent.unscoped.count()
    L.run_import(path)
    assert WebhookEvent.unscoped.count() == before
    changed = [*L.valid_file()[:-2], L.session(2, status="abandoned", transcript=[])]
    L.run_import(L.write_file(tmp_path, changed, "changed.jsonl"))
    updated = WebhookEvent.unscoped.filter(type="session.updated")
    assert [str(e.object_id) for e in updated] == [L.session(2)["id"]]
    assert orjson.loads(updated[0].data)["status"] == "abandoned"


def test_an_import_that_fails_records_nothing(acme, subscribe, tmp_path):
    subscribe(acme)
    bad = [*L.valid_file(), {**L.session(9), "status": "bogus"}]
    assert L.run_import_failing(L.write_file(tmp_path, bad))
    assert WebhookEvent.unscoped.count() == 0
    assert WebhookDelivery.objects.count() == 0


def test_deletions_are_told_with_the_deletions_entry(acme, subscribe, client_for, tmp_path):
    L.run_import(L.write_file(tmp_path, L.valid_file()))
    subscribe(acme)
    session_bulk_delete(sessions=Session.unscoped.filter(pk=L.session(1)["id"]))
    assert _events() == [
        ("scorecard.deleted", L.scorecard(1)["id"]),
        ("session.deleted", L.session(1)["id"]),
    ]
    listed = client_for(acme).get("/api/v1/deletions").json()["data"]
    for event in WebhookEvent.unscoped.all():
        entry = next(d for d in listed if d["id"] == str(event.object_id))
        assert orjson.loads(event.data) == entry


def test_one_transaction_tells_each_object_once(subscribe):
    acme = TenantFactory()
    subscribe(acme)
    with transaction.atomic():
        scenario = ScenarioFactory(tenant=acme, name="First")
        scenario.name = "Second"
        scenario_upsert(scenario=scenario)
    [event] = WebhookEvent.unscoped.all()
    assert event.type == "scenario.created"
    assert orjson.loads(event.data)["name"] == "Second"

    with transaction.atomic():
        session = SessionFactory(tenant=acme)
        session_bulk_delete(sessions=Session.unscoped.filter(pk=session.pk))
    assert not WebhookEvent.unscoped.filter(object="session").exists(), (
        "created and deleted in one transaction: nobody ever saw it"
    )


def test_a_single_write_tells_a_change_and_not_a_save_that_changes_nothing(subscribe):
    acme = TenantFactory()
    session = SessionFactory(tenant=acme)
    subscribe(acme)
    session_upsert(session=session)
    assert WebhookEvent.unscoped.count() == 0
    session.status = Session.Status.ABANDONED
    session_upsert(session=session)
    assert _events() == [("session.updated", str(session.pk))]


def test_scoring_tells_the_scorecard_and_its_session(subscribe):
    acme = TenantFactory()
    session = SessionFactory(tenant=acme, status=Session.Status.COMPLETED)
    subscribe(acme)
    card = ScorecardFactory(session=session, tenant=acme)
    assert _events() == sorted(
        [("scorecard.created", str(card.pk)), ("session.updated", str(session.pk))]
    )
    told = WebhookEvent.unscoped.get(type="session.updated")
    assert orjson.loads(told.data)["scorecard_id"] == str(card.pk)
    WebhookEvent.unscoped.all().delete()
    scorecard_delete(scorecard=card)
    assert _events() == sorted(
        [("scorecard.deleted", str(card.pk)), ("session.updated", str(session.pk))]
    )
    assert orjson.loads(WebhookEvent.unscoped.get(type="session.updated").data)["status"] == (
        "completed"
    )


def test_an_endpoint_gets_only_its_tenant_and_its_types(subscribe, receiver):
    acme, globex = TenantFactory(), TenantFactory()
    only_cards, _ = subscribe(acme, types=["scorecard.created"])
    everything, _ = subscribe(globex)
    ScorecardFactory(tenant=acme, session__tenant=acme)
    theirs = ScorecardFactory(tenant=globex, session__tenant=globex)
    mine = WebhookDelivery.objects.filter(endpoint=only_cards).select_related("event")
    assert [d.event.type for d in mine] == ["scorecard.created"]
    assert {d.event.tenant_id for d in WebhookDelivery.objects.filter(endpoint=everything)} == {
        globex.pk
    }
    assert str(theirs.pk) in {
        str(d.event.object_id) for d in WebhookDelivery.objects.filter(endpoint=everything)
    }


def test_a_disabled_endpoint_gets_events_recorded_but_no_delivery(subscribe):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme)
    endpoint_disable(endpoint_id=endpoint.pk, reason="test")
    ScenarioFactory(tenant=acme)
    assert WebhookEvent.unscoped.count() == 1
    assert WebhookDelivery.objects.count() == 0


def test_no_endpoint_no_event():
    ScorecardFactory()
    assert WebhookEvent.unscoped.count() == 0
