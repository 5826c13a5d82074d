"""The receiver that docs/webhooks.md gives customers really works: its code block, run as the page
says (the secret in WEBHOOK_SECRET), accepts a real signed delivery, refuses a forged one with
401, processes a repeated ``webhook-id`` once and keeps each object's newest version."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from standardwebhooks import Webhook

from tenants.models import Tenant
from tests.factories import ScenarioFactory, TenantFactory
from tests.live import ROOT
from webhooks.delivery import drain
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from webhooks.services import deliveries_resend, endpoint_create, event_body

pytestmark = pytest.mark.django_db

PAGE = ROOT / "docs" / "webhooks.md"
HEADING = "## Receive and verify"


def receiver_code() -> str:
    """The first ```python block under the page's "Receive and verify" heading."""
    text = PAGE.read_text()
    assert text.count(f"\n{HEADING}\n") == 1, f"docs/webhooks.md has no single {HEADING!r}"
    section = text[text.index(f"\n{HEADING}\n") :]
    following = re.search(r"^## ", section[len(HEADING) + 2 :], re.M)
    if following:
        section = section[: len(HEADING) + 2 + following.start()]
    block = re.search(r"^```python\n(.*?)^```$", section, re.M | re.S)
    assert block, f"no python block under {HEADING!r}"
    return block.group(1)


class CountingServer(ThreadingHTTPServer):
    """Counts requests whose handler has returned, work after the answer included."""

    daemon_threads = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.handled = 0
        self.done = threading.Condition()

    def finish_request(self, request, client_address) -> None:
        try:
            super().finish_request(request, client_address)
        finally:
            with self.done:
                self.handled += 1
                self.done.notify_all()

    def wait_handled(self, count: int, timeout: float = 10.0) -> None:
        with self.done:
            assert self.done.wait_for(lambda: self.handled >= count, timeout), (
                f"{self.handled} request(s) handled, {count} expected"
            )


@dataclass
class Running:
    url: str
    secret: str
    server: CountingServer
    ns: dict[str, Any]  # the snippet's module namespace: seen, latest, ...
    endpoint: WebhookEndpoint
    tenant: Tenant

    def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        before = self.server.handled
        answer = httpx.post(self.url, content=body, headers=headers, timeout=10)
        self.server.wait_handled(before + 1)
        return answer

    def signed(self, event_id: str, body: bytes) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(self.secret).sign(event_id, now, body),
            "content-type": "application/json",
        }


@pytest.fixture
def running(monkeypatch) -> Iterator[Running]:
    """The page's receiver on 127.0.0.1 (an ephemeral port), subscribed to a new tenant."""
    # Bound first (the port is the endpoint's URL), served once the snippet has its secret.
    server = CountingServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    tenant = TenantFactory()
    endpoint, secret = endpoint_create(tenant_id=tenant.pk, url=url)
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    ns: dict[str, Any] = {"__name__": "docs_webhook_receiver"}
    exec(compile(receiver_code(), str(PAGE), "exec"), ns)  # noqa: S102 - our own page's code
    server.RequestHandlerClass = ns["Receiver"]
    ns["Receiver"].log_message = lambda *args: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(
            url=url, secret=secret, server=server, ns=ns, endpoint=endpoint, tenant=tenant
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_page_has_the_receiver_and_reads_the_secret_from_the_environment():
    code = receiver_code()
    assert 'os.environ["WEBHOOK_SECRET"]' in code
    assert "Webhook(" in code and ".verify(" in code


def test_the_receiver_accepts_a_real_delivery(running):
    scenario = ScenarioFactory(tenant=running.tenant)
    assert drain(running.endpoint.pk) == 1
    running.server.wait_handled(1)
    delivery = WebhookDelivery.objects.get(endpoint=running.endpoint)
    assert delivery.status == DeliveryStatus.DELIVERED
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.ok, attempt.status_code) == (True, 204)
    event = WebhookEvent.unscoped.get(pk=delivery.event_id)
    assert event.type == "scenario.created"
    assert running.ns["seen"] == {str(event.pk)}
    kept = running.ns["latest"][("scenario", str(scenario.pk))]
    assert kept == orjson.loads(event.data)
    assert kept["name"] == scenario.name


def test_a_tampered_or_unsigned_delivery_is_refused_with_401(running):
    ScenarioFactory(tenant=running.tenant)
    drain(running.endpoint.pk)
    running.server.wait_handled(1)
    event = WebhookEvent.unscoped.get()
    body = b'{"type":"scenario.created","timestamp":"2026-05-06T17:00:00Z","data":{}}'
    forged = running.signed(str(uuid.uuid4()), body)
    forged["webhook-signature"] = Webhook("whsec_" + "A" * 43 + "=").sign(
        forged["webhook-id"], datetime.now(UTC), body
    )
    assert running.post(body, forged).status_code == 401
    # The real body, altered after signing.
    real = WebhookDelivery.objects.get().event
    genuine = event_body(real)
    headers = running.signed(str(real.pk), genuine)
    assert running.post(genuine.replace(b"Scenario", b"Scenariq"), headers).status_code == 401
    assert running.post(genuine, {"content-type": "application/json"}).status_code == 401
    stale = running.signed(str(uuid.uuid4()), genuine)
    old = datetime.now(UTC) - timedelta(minutes=10)
    stale["webhook-timestamp"] = str(int(old.timestamp()))
    stale["webhook-signature"] = Webhook(running.secret).sign(stale["webhook-id"], old, genuine)
    assert running.post(genuine, stale).status_code == 401
    assert running.ns["seen"] == {str(event.pk)}, "nothing refused was processed"


def test_a_repeated_webhook_id_is_acknowledged_and_processed_once(running):
    scenario = ScenarioFactory(tenant=running.tenant)
    drain(running.endpoint.pk)
    running.server.wait_handled(1)
    event = WebhookEvent.unscoped.get()
    key = ("scenario", str(scenario.pk))
    first = dict(running.ns["latest"][key])

    # The product's own re-send: the same webhook-id, answered 2xx, nothing processed again.
    assert deliveries_resend(endpoint=running.endpoint, event_ids=[event.pk]) == 1
    assert drain(running.endpoint.pk) == 1
    running.server.wait_handled(2)
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
    assert list(WebhookAttempt.objects.values_list("status_code", flat=True)) == [204, 204]

    # The same id again, carrying a newer version: acknowledged, and still ignored.
    newer = {**first, "name": "Renamed", "updated_at": "2099-01-01T00:00:00Z"}
    body = orjson.dumps(
        {"type": "scenario.updated", "timestamp": "2099-01-01T00:00:00Z", "data": newer}
    )
    answer = running.post(body, running.signed(str(event.pk), body))
    assert 200 <= answer.status_code < 300
    assert running.ns["latest"][key] == first
    assert running.ns["seen"] == {str(event.pk)}


def test_the_receiver_keeps_the_newest_version_of_each_object(running):
    scenario = ScenarioFactory(tenant=running.tenant)
    drain(running.endpoint.pk)
    running.server.wait_handled(1)
    key = ("scenario", str(scenario.pk))
    first = dict(running.ns["latest"][key])
    stamp = datetime.fromisoformat(first["updated_at"])

    def send(event_type: str, data: dict) -> None:
        body = orjson.dumps({"type": event_type, "timestamp": first["updated_at"], "data": data})
        answer = running.post(body, running.signed(str(uuid.uuid4()), body))
        assert 200 <= answer.status_code < 300

    def at(delta: timedelta) -> str:  # RFC 3339 as the API writes it (no fraction when zero)
        return (stamp + delta).isoformat().replace("+00:00", "Z")

    send("scenario.updated", {**first, "name": "Older", "updated_at": at(-timedelta(hours=1))})
    assert running.ns["latest"][key]["name"] == scenario.name, "an older version arrived late"
    newer = {**first, "name": "Newer", "updated_at": at(timedelta(seconds=1))}
    send("scenario.updated", newer)
    assert running.ns["latest"][key] == newer
    gone = {"object": "scenario", "id": str(scenario.pk), "deleted_at": at(timedelta(minutes=1))}
    send("scenario.deleted", gone)
    assert running.ns["latest"][key] == gone
    send("scenario.updated", {**newer, "name": "Late", "updated_at": at(timedelta(seconds=2))})
    assert running.ns["latest"][key] == gone, "an update older than the deletion arrived late"
