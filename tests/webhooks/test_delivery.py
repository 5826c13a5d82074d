"""Delivery to a real local receiver: signed as any Standard Webhooks library verifies, retried on
the schedule, failed when it is spent, never redirected, never to a refused address; re-sent
with the original ``webhook-id``."""

from __future__ import annotations

import io
from datetime import timedelta

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from standardwebhooks import Webhook

from tests.factories import ScenarioFactory, ScorecardFactory, TenantFactory
from webhooks.delivery import drain
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from webhooks.services import deliveries_resend, endpoint_rotate_secret

pytestmark = pytest.mark.django_db


def _due_now() -> None:
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def test_every_delivery_verifies_with_the_standard_webhooks_library(subscribe, receiver):
    acme = TenantFactory()
    endpoint, secret = subscribe(acme)
    card = ScorecardFactory(tenant=acme, session__tenant=acme)
    assert drain(endpoint.pk) == 4  # user, scenario and session created, then the scorecard
    got = receiver.wait_for(4)
    events = {str(e.id): e for e in WebhookEvent.unscoped.all()}
    for request in got:
        payload = Webhook(secret).verify(request.body, request.headers)
        event = events[request.headers["webhook-id"]]
        assert payload["type"] == event.type
        assert payload["data"] == orjson.loads(event.data)
        assert request.headers["content-type"] == "application/json"
        stamp = int(request.headers["webhook-timestamp"])
        assert abs(stamp - timezone.now().timestamp()) < 60
    scored = next(r for r in got if orjson.loads(r.body)["type"] == "scorecard.created")
    assert orjson.loads(scored.body)["data"]["id"] == str(card.pk)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert WebhookAttempt.objects.filter(ok=True, status_code=200).count() == 4
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 43 + "=").verify(got[0].body, got[0].headers)


def test_a_failure_is_retried_on_the_schedule_with_the_same_webhook_id(
    subscribe, receiver, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = "5,300"
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda _: (500, b"boom " * 400, 0.0)
    drain(endpoint.pk)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.failures, delivery.attempts) == ("pending", 1, 1)
    wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
    assert 5 <= wait <= 5.5 + 0.01, "5 s and up to 10% jitter"
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.ok) == (500, False)
    assert len(attempt.response) == 1024 and attempt.response.startswith("boom")
    assert drain(endpoint.pk) == 0, "not due yet"

    _due_now()
    receiver.answer = lambda _: (204, b"", 0.0)
    drain(endpoint.pk)
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.failures) == ("delivered", 2, 0)


def test_a_spent_schedule_fails_the_delivery(subscribe, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "1"
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda _: (503, b"", 0.0)
    drain(endpoint.pk)
    _due_now()
    drain(endpoint.pk)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)
    _due_now()
    assert drain(endpoint.pk) == 0


def test_410_gone_disables_the_endpoint(subscribe, receiver):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda _: (410, b"", 0.0)
    drain(endpoint.pk)
    ScenarioFactory(tenant=acme)  # after it was disabled: recorded, not owed
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["failed"]
    assert drain(endpoint.pk) == 0
    assert len(receiver.received) == 1


def test_a_timeout_is_a_failure(subscribe, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda _: (200, b"", 3.0)
    drain(endpoint.pk)
    attempt = WebhookAttempt.objects.get()
    assert not attempt.ok and attempt.status_code is None
    assert attempt.error.startswith("timeout")
    assert 900 <= attempt.duration_ms < 2900


def test_a_redirect_is_not_followed(subscribe, receiver):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda r: (302, b"", 0.0) if r.path == "/hooks" else (200, b"", 0.0)
    drain(endpoint.pk)
    assert [r.path for r in receiver.received] == ["/hooks"]
    assert WebhookAttempt.objects.get().status_code == 302
    assert WebhookDelivery.objects.get().status == "pending"


def test_a_private_address_is_refused_at_delivery(subscribe, receiver, settings):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])  # allowed when it was saved
    ScenarioFactory(tenant=acme)
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    drain(endpoint.pk)
    assert receiver.received == []
    attempt = WebhookAttempt.objects.get()
    assert not attempt.ok and "loopback" in attempt.error


def test_a_rotated_secret_signs_with_both_for_a_day(subscribe, receiver):
    acme = TenantFactory()
    endpoint, old = subscribe(acme, types=["scenario.created"])
    new = endpoint_rotate_secret(endpoint=endpoint)
    assert new != old and new.startswith("whsec_")
    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)
    [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(request.body, request.headers)
    WebhookEndpoint.unscoped.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)
    latest = receiver.wait_for(2)[1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(latest.body, latest.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(old).verify(latest.body, latest.headers)


def test_a_replay_resends_with_the_original_id_and_failed_only_only_failures(
    subscribe, receiver, settings
):
    settings.WEBHOOK_RETRY_SCHEDULE = "1"
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    since = timezone.now()
    ScenarioFactory(tenant=acme)
    ScenarioFactory(tenant=acme)
    failing = str(WebhookEvent.unscoped.order_by("created_at").first().pk)
    receiver.answer = lambda r: (
        (500, b"", 0.0) if r.headers["webhook-id"] == failing else (200, b"", 0)
    )
    drain(endpoint.pk)
    _due_now()
    drain(endpoint.pk)
    assert sorted(WebhookDelivery.objects.values_list("status", flat=True)) == [
        "delivered",
        "failed",
    ]
    failed = WebhookDelivery.objects.get(status="failed").event_id
    receiver.answer = lambda _: (200, b"", 0.0)
    assert deliveries_resend(endpoint=endpoint, since=since, failed_only=True) == 1
    drain(endpoint.pk)
    assert receiver.received[-1].headers["webhook-id"] == str(failed)
    assert deliveries_resend(endpoint=endpoint, since=since) == 2
    drain(endpoint.pk)
    resent = {r.headers["webhook-id"] for r in receiver.received[-2:]}
    assert resent == {str(e) for e in WebhookEvent.unscoped.values_list("id", flat=True)}


def test_replay_command(subscribe, receiver):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)
    out = io.StringIO()
    call_command(
        "replay_webhooks", "--endpoint", str(endpoint.pk), "--since", "2000-01-01", stdout=out
    )
    assert out.getvalue().startswith("1 event(s) queued")
    drain(endpoint.pk)
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    for bad in (
        ["--endpoint", "nope", "--since", "2000-01-01"],
        ["--endpoint", str(endpoint.pk), "--since", "yesterday"],
    ):
        with pytest.raises(CommandError):
            call_command("replay_webhooks", *bad)


def test_create_webhook_prints_id_then_secret_and_refuses_bad_urls(receiver, settings):
    acme = TenantFactory(slug="acme-wh")
    out = io.StringIO()
    call_command(
        "create_webhook",
        "--tenant",
        "acme-wh",
        "--url",
        receiver.url,
        "--events",
        "scorecard.created,session.updated",
        stdout=out,
    )
    endpoint_id, secret = out.getvalue().split()
    endpoint = WebhookEndpoint.unscoped.get(pk=endpoint_id)
    assert endpoint.tenant_id == acme.pk and endpoint.secret == secret
    assert endpoint.event_types == ["scorecard.created", "session.updated"]
    assert secret.startswith("whsec_") and len(Webhook(secret)._whsecret) == 32
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    for url, reason in (
        (receiver.url, "http"),
        ("https://127.0.0.1/hooks", "loopback"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::ffff:10.0.0.1]/", "private"),
    ):
        with pytest.raises(CommandError, match=reason):
            call_command("create_webhook", "--tenant", "acme-wh", "--url", url)
    with pytest.raises(CommandError, match="Unknown event type"):
        call_command(
            "create_webhook", "--tenant", "acme-wh", "--url", "https://a.test", "--events", "x.y"
        )
    with pytest.raises(CommandError, match="unknown tenant"):
        call_command("create_webhook", "--tenant", "nobody", "--url", "https://a.test")
    assert WebhookEndpoint.unscoped.count() == 1


def test_metrics_count_deliveries_by_outcome_and_the_oldest_owed(subscribe, receiver, client):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    text = client.get("/metrics").content.decode()
    assert 'webhook_deliveries{status="pending"} 1.0' in text
    age = float(text.split("\nwebhook_oldest_undelivered_seconds ")[1].split()[0])
    assert 600 <= age < 660
    receiver.answer = lambda _: (500, b"", 0.0)
    drain(endpoint.pk)
    text = client.get("/metrics").content.decode()
    assert 'webhook_attempts_last_hour{outcome="http_error"} 1.0' in text
    assert 'webhook_attempts_last_hour{outcome="success"} 0.0' in text
    _due_now()
    receiver.answer = lambda _: (200, b"", 0.0)
    drain(endpoint.pk)
    text = client.get("/metrics").content.decode()
    assert 'webhook_deliveries{status="delivered"} 1.0' in text
    assert "\nwebhook_oldest_undelivered_seconds 0.0" in text


def test_an_endpoint_failing_for_the_whole_window_is_disabled(subscribe, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 2
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda _: (500, b"", 0.0)
    drain(endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled, "failing for a moment is not failing for the window"
    # Its first failure now lies at the window's start: every attempt since then failed.
    WebhookAttempt.objects.update(at=timezone.now() - timedelta(hours=2, minutes=-5))
    _due_now()
    drain(endpoint.pk)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "2 hours" in endpoint.disabled_reason
    assert WebhookDelivery.objects.get().status == "failed"


def test_one_success_in_the_window_keeps_it_enabled(subscribe, receiver, settings):
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 2
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)  # a success
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda _: (500, b"", 0.0)
    WebhookAttempt.objects.update(at=timezone.now() - timedelta(hours=1, minutes=55))
    drain(endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_prune_forgets_what_is_older_than_the_retention_but_what_is_still_owed(
    subscribe, receiver, settings
):
    settings.WEBHOOK_RETENTION_DAYS = 30
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)
    ScenarioFactory(tenant=acme)  # still owed
    old = timezone.now() - timedelta(days=31)
    WebhookEvent.unscoped.update(created_at=old)
    WebhookAttempt.objects.update(at=old)
    out = io.StringIO()
    call_command("prune_webhooks", stdout=out)
    assert out.getvalue().startswith("pruned 2 event(s), 2 deliveries and 2 attempt(s)")
    assert WebhookEvent.unscoped.count() == 1
    assert WebhookDelivery.objects.get().status == "pending"
