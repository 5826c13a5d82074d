"""Operators run webhooks in admin: an endpoint's secret is shown once (on creation and on
rotation) and verifies what is delivered; endpoints are enabled, disabled and re-sent to through
the services; deliveries, events and attempts are read, paged, and re-sent only by the actions;
refused input is a form error that writes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook

from tests.factories import ScenarioFactory, TenantFactory
from webhooks import admin as webhooks_admin
from webhooks.delivery import drain
from webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

pytestmark = pytest.mark.django_db

SECRET = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")


def url(name: str, *args) -> str:
    return reverse(f"admin:webhooks_{name}", args=args)


def secrets_in(response) -> list[str]:
    return SECRET.findall(response.content.decode())


def act(client, model: str, action: str, *objects):
    return client.post(
        url(f"{model}_changelist"),
        {"action": action, "_selected_action": [str(o.pk) for o in objects]},
    )


def _due_now() -> None:
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# -- creating an endpoint -----------------------------------------------------------------------


def test_a_new_endpoints_secret_is_shown_once_and_verifies_its_deliveries(admin_client, receiver):
    acme = TenantFactory()
    response = admin_client.post(
        url("webhookendpoint_add"),
        {
            "tenant": acme.pk,
            "url": receiver.url,
            "event_types": ["scenario.created", "scenario.updated"],
            "description": "CRM sync",
        },
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [secret] = secrets_in(response)
    endpoint = WebhookEndpoint.unscoped.get()
    assert endpoint.secret == secret
    assert (endpoint.tenant, endpoint.url, endpoint.description) == (acme, receiver.url, "CRM sync")
    assert endpoint.event_types == ["scenario.created", "scenario.updated"]
    assert endpoint.enabled

    change = admin_client.get(url("webhookendpoint_change", endpoint.pk))
    listing = admin_client.get(url("webhookendpoint_changelist"))
    assert change.status_code == listing.status_code == 200
    for page in (change, listing):
        assert secret not in page.content.decode() and secrets_in(page) == []
    assert 'name="secret"' not in change.content.decode()

    ScenarioFactory(tenant=acme)
    assert drain(endpoint.pk) == 1
    [request] = receiver.wait_for(1)
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "scenario.created"
    assert request.headers["webhook-id"] == str(WebhookEvent.unscoped.get().pk)


def test_no_type_checked_means_every_type(admin_client, receiver):
    acme = TenantFactory()
    form = {"tenant": acme.pk, "url": receiver.url, "description": ""}
    assert admin_client.post(url("webhookendpoint_add"), form).status_code == 200
    endpoint = WebhookEndpoint.unscoped.get()
    assert endpoint.event_types == []
    assert "all" in admin_client.get(url("webhookendpoint_changelist")).content.decode()


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ({"url": "https://127.0.0.1/"}, "url"),
        ({"url": "https://[::1]:8443/hooks"}, "url"),
        ({"url": "https://10.1.2.3/hooks"}, "url"),
        ({"url": "http://93.184.215.14/hooks"}, "url"),  # public, but not https
        ({"url": "https://user:pw@93.184.215.14/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"event_types": ["scenario.exploded"]}, "event_types"),
        ({"event_types": ["scenario.created", "session"]}, "event_types"),
    ],
)
def test_refused_input_is_a_form_error_and_writes_nothing(admin_client, settings, typed, field):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    settings.WEBHOOK_ALLOW_HTTP = False
    acme = TenantFactory()
    form = {"tenant": acme.pk, "url": "https://93.184.215.14/hooks", "description": "", **typed}
    response = admin_client.post(url("webhookendpoint_add"), form)
    assert response.status_code == 200  # the form again, with the error
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field], errors
    assert not WebhookEndpoint.unscoped.exists()
    assert secrets_in(response) == []


def test_a_url_refused_only_when_saved_is_a_message_not_a_server_error(
    admin_client, settings, monkeypatch
):
    """DNS can answer differently between the form's check and endpoint_save's."""
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(webhooks_admin, "url_check", lambda url: None)
    acme = TenantFactory()
    add = url("webhookendpoint_add")
    response = admin_client.post(add, {"tenant": acme.pk, "url": "https://127.0.0.1/"})
    assert response.status_code == 302 and response["Location"] == add
    assert not WebhookEndpoint.unscoped.exists()
    shown = admin_client.get(add).content.decode()
    assert "loopback" in shown and secrets_in(admin_client.get(add)) == []


def test_an_endpoint_is_edited_through_the_services_and_keeps_its_tenant_and_secret(
    admin_client, subscribe, settings
):
    acme, globex = TenantFactory(), TenantFactory()
    endpoint, secret = subscribe(acme, types=["scenario.created"])
    change = url("webhookendpoint_change", endpoint.pk)
    form = {"tenant": globex.pk, "url": "https://93.184.215.14/new", "description": "moved"}
    response = admin_client.post(change, {**form, "event_types": ["session.created"]})
    assert response.status_code == 302, response.content.decode()[:2000]
    endpoint.refresh_from_db()
    assert endpoint.url == "https://93.184.215.14/new"
    assert endpoint.event_types == ["session.created"]
    assert (endpoint.tenant_id, endpoint.secret) == (acme.pk, secret)

    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    refused = admin_client.post(change, {**form, "url": "https://192.168.1.1/"})
    assert refused.status_code == 200
    assert list(refused.context["adminform"].form.errors) == ["url"]
    endpoint.refresh_from_db()
    assert endpoint.url == "https://93.184.215.14/new"


# -- enabling, disabling, rotating --------------------------------------------------------------


def test_disable_and_enable_actions(admin_client, subscribe, receiver):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)  # a pending delivery

    assert act(admin_client, "webhookendpoint", "disable", endpoint).status_code == 302
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "Disabled in admin by admin."
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED
    assert drain(endpoint.pk) == 0 and receiver.received == []
    listing = admin_client.get(url("webhookendpoint_changelist")).content.decode()
    assert "Disabled in admin by admin." in listing
    page = admin_client.get(url("webhookendpoint_change", endpoint.pk)).content.decode()
    assert "Disabled in admin by admin." in page and 'alt="False"' in page

    # Disabling again keeps the first reason.
    act(admin_client, "webhookendpoint", "disable", endpoint)
    endpoint.refresh_from_db()
    assert endpoint.disabled_reason == "Disabled in admin by admin."

    assert act(admin_client, "webhookendpoint", "enable", endpoint).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == ""
    ScenarioFactory(tenant=acme)
    assert drain(endpoint.pk) == 1
    receiver.wait_for(1)


def test_the_rotate_button_shows_the_new_secret_once_and_both_sign(
    admin_client, subscribe, receiver
):
    acme = TenantFactory()
    endpoint, old = subscribe(acme, types=["scenario.created"])
    rotate = url("webhookendpoint_rotate", endpoint.pk)
    change = admin_client.get(url("webhookendpoint_change", endpoint.pk)).content.decode()
    assert f'href="{rotate}"' in change

    confirm = admin_client.get(rotate)
    assert confirm.status_code == 200 and secrets_in(confirm) == []
    endpoint.refresh_from_db()
    assert endpoint.secret == old, "a GET changes nothing"

    response = admin_client.post(rotate)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    [new] = secrets_in(response)
    assert new != old
    assert "24 hours" in response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.secret, endpoint.previous_secret) == (new, old)
    page = admin_client.get(url("webhookendpoint_change", endpoint.pk)).content.decode()
    assert new not in page and old not in page and "both signatures" in page

    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)
    [request] = receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(request.body, request.headers)


def test_the_rotate_action_shows_each_new_secret_once(admin_client, subscribe):
    first, _ = subscribe(TenantFactory())
    second, _ = subscribe(TenantFactory())
    response = act(admin_client, "webhookendpoint", "rotate_secret", first, second)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    shown = secrets_in(response)
    first.refresh_from_db()
    second.refresh_from_db()
    assert sorted(shown) == sorted([first.secret, second.secret])
    assert secrets_in(admin_client.get(url("webhookendpoint_changelist"))) == []


# -- deliveries ---------------------------------------------------------------------------------


def test_an_endpoints_deliveries_are_linked_filtered_and_paged(admin_client, subscribe):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    other, _ = subscribe(TenantFactory(), types=["scenario.created"])
    per_page = webhooks_admin.WebhookDeliveryAdmin.list_per_page
    ScenarioFactory.create_batch(per_page + 1, tenant=acme)
    ScenarioFactory(tenant=other.tenant)
    theirs = WebhookDelivery.objects.get(endpoint=other)

    deliveries = url("webhookdelivery_changelist") + f"?endpoint={endpoint.pk}"
    page = admin_client.get(url("webhookendpoint_change", endpoint.pk)).content.decode()
    assert f'<a href="{deliveries}">Deliveries ({per_page + 1})</a>' in page

    first = admin_client.get(deliveries)
    assert first.status_code == 200
    assert first.context["cl"].result_count == per_page + 1
    assert len(first.context["cl"].result_list) == per_page
    body = first.content.decode()
    assert "scenario.created" in body and str(theirs.event_id) not in body
    second = admin_client.get(deliveries + "&p=2")
    [last] = second.context["cl"].result_list
    assert str(last.event_id) in second.content.decode()

    pending = admin_client.get(deliveries + "&status__exact=pending")
    assert pending.context["cl"].result_count == per_page + 1
    delivered = admin_client.get(deliveries + "&status__exact=delivered")
    assert delivered.context["cl"].result_count == 0


def test_the_deliveries_list_costs_the_same_queries_for_more_rows(admin_client, subscribe):
    acme = TenantFactory()
    subscribe(acme)
    ScenarioFactory(tenant=acme)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url("webhookdelivery_changelist")).status_code == 200
        return len(captured)

    few = queries()
    ScenarioFactory.create_batch(10, tenant=acme)
    assert queries() == few


def test_a_deliverys_page_shows_its_attempts(admin_client, subscribe, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "1"
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    receiver.answer = lambda _: (500, b"<b>boom</b> " * 200, 0.0)
    drain(endpoint.pk)
    _due_now()
    receiver.answer = lambda _: (200, b"thanks", 0.0)
    drain(endpoint.pk)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)

    response = admin_client.get(url("webhookdelivery_change", delivery.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert str(delivery.event_id) in page and "scenario.created" in page
    assert "<td>500</td>" in page and "<td>200</td>" in page and "thanks" in page
    assert "&lt;b&gt;boom&lt;/b&gt;" in page and "<b>boom</b>" not in page  # escaped
    failed = WebhookAttempt.objects.get(status_code=500)
    assert len(failed.response) == 1024 and failed.response in page.replace("&lt;", "<").replace(
        "&gt;", ">"
    )
    assert page.index("<td>200</td>") < page.index("<td>500</td>"), "latest first"
    assert 'name="status"' not in page and 'name="_save"' not in page  # read only


def test_resending_one_delivery_requeues_it_with_the_same_webhook_id(
    admin_client, subscribe, receiver
):
    acme = TenantFactory()
    endpoint, secret = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)
    receiver.wait_for(2)
    chosen, untouched = WebhookDelivery.objects.order_by("created_at", "id")
    assert {chosen.status, untouched.status} == {"delivered"}

    response = act(admin_client, "webhookdelivery", "resend", chosen)
    assert response.status_code == 302
    chosen.refresh_from_db()
    untouched.refresh_from_db()
    assert (chosen.status, untouched.status) == ("pending", "delivered")
    assert drain(endpoint.pk) == 1
    again = receiver.wait_for(3)[2]
    assert again.headers["webhook-id"] == str(chosen.event_id)
    Webhook(secret).verify(again.body, again.headers)
    chosen.refresh_from_db()
    assert (chosen.status, chosen.attempts) == ("delivered", 2)


def test_resending_to_a_disabled_endpoint_is_refused_with_a_warning(admin_client, subscribe):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    act(admin_client, "webhookendpoint", "disable", endpoint)
    delivery = WebhookDelivery.objects.get()
    response = act(admin_client, "webhookdelivery", "resend", delivery)
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    shown = admin_client.get(response["Location"]).content.decode()
    assert "endpoint is disabled" in shown


def test_resend_since_and_failed_only(admin_client, subscribe, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE = "1"
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    since = timezone.now().replace(microsecond=0) - timedelta(seconds=1)
    ScenarioFactory(tenant=acme)
    ScenarioFactory(tenant=acme)
    failing = str(WebhookEvent.unscoped.order_by("created_at", "id").first().pk)
    receiver.answer = lambda r: (500 if r.headers["webhook-id"] == failing else 200, b"", 0.0)
    drain(endpoint.pk)
    _due_now()
    drain(endpoint.pk)
    statuses = dict(WebhookDelivery.objects.values_list("event_id", "status"))
    assert sorted(statuses.values()) == ["delivered", "failed"]
    receiver.answer = lambda _: (200, b"", 0.0)

    resend = url("webhookendpoint_resend", endpoint.pk)
    change = admin_client.get(url("webhookendpoint_change", endpoint.pk)).content.decode()
    assert f'href="{resend}"' in change
    assert admin_client.get(resend).status_code == 200
    response = admin_client.post(resend, {"since": since.isoformat(), "failed_only": "on"})
    assert response.status_code == 302
    assert response["Location"].endswith(f"?endpoint={endpoint.pk}")
    now = dict(WebhookDelivery.objects.values_list("event_id", "status"))
    assert sorted(str(e) for e, s in now.items() if s == "pending") == [failing]
    assert [s for e, s in now.items() if str(e) != failing] == ["delivered"]
    sent = len(receiver.received)
    drain(endpoint.pk)
    assert [r.headers["webhook-id"] for r in receiver.wait_for(sent + 1)[sent:]] == [failing]

    response = admin_client.post(resend, {"since": since.isoformat()})
    assert response.status_code == 302
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"pending"}
    later = admin_client.post(resend, {"since": (timezone.now() + timedelta(hours=1)).isoformat()})
    assert later.status_code == 302
    assert "Re-queued 0 event(s)" in admin_client.get(later["Location"]).content.decode()


@pytest.mark.parametrize("since", ["yesterday", "2026-13-01T00:00:00Z", "", "2026-05-06T25:00"])
def test_a_malformed_time_is_a_form_error_and_resends_nothing(admin_client, subscribe, since):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED)
    response = admin_client.post(
        url("webhookendpoint_resend", endpoint.pk), {"since": since, "failed_only": "on"}
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["since"]
    assert WebhookDelivery.objects.get().status == "failed"


def test_resending_to_a_disabled_endpoint_is_a_form_error(admin_client, subscribe):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    act(admin_client, "webhookendpoint", "disable", endpoint)
    response = admin_client.post(
        url("webhookendpoint_resend", endpoint.pk), {"since": "2000-01-01T00:00:00Z"}
    )
    assert response.status_code == 200
    assert "enable it first" in response.content.decode()
    assert WebhookDelivery.objects.get().status == "failed"


# -- what the worker writes is read only --------------------------------------------------------


@pytest.fixture
def delivered(subscribe, receiver):
    acme = TenantFactory()
    endpoint, _ = subscribe(acme, types=["scenario.created"])
    ScenarioFactory(tenant=acme)
    drain(endpoint.pk)
    return WebhookDelivery.objects.select_related("event", "endpoint").get()


@pytest.mark.parametrize("model", ["webhookevent", "webhookdelivery", "webhookattempt"])
def test_events_deliveries_and_attempts_cannot_be_added_changed_or_deleted(
    admin_client, delivered, model
):
    obj = {
        "webhookevent": delivered.event,
        "webhookdelivery": delivered,
        "webhookattempt": WebhookAttempt.objects.get(),
    }[model]
    listing = admin_client.get(url(f"{model}_changelist")).content.decode()
    assert url(f"{model}_add") not in listing and "delete_selected" not in listing
    assert admin_client.get(url(f"{model}_add")).status_code == 403
    assert admin_client.get(url(f"{model}_delete", obj.pk)).status_code == 403
    assert admin_client.post(url(f"{model}_delete", obj.pk), {"post": "yes"}).status_code == 403
    assert admin_client.post(url(f"{model}_change", obj.pk), {}).status_code == 403
    assert type(obj)._default_manager.filter(pk=obj.pk).exists()


def test_an_endpoint_cannot_be_deleted(admin_client, delivered):
    endpoint = delivered.endpoint
    assert admin_client.get(url("webhookendpoint_delete", endpoint.pk)).status_code == 403
    assert (
        "delete_selected"
        not in admin_client.get(url("webhookendpoint_changelist")).content.decode()
    )
    assert WebhookEndpoint.unscoped.filter(pk=endpoint.pk).exists()


@pytest.mark.parametrize(
    "page",
    [
        "webhookendpoint_changelist",
        "webhookendpoint_change",
        "webhookendpoint_add",
        "webhookendpoint_resend",
        "webhookendpoint_rotate",
        "webhookevent_changelist",
        "webhookevent_change",
        "webhookdelivery_changelist",
        "webhookdelivery_change",
        "webhookattempt_changelist",
        "webhookattempt_change",
    ],
)
def test_pages_render_with_data(admin_client, delivered, page):
    obj = {
        "webhookendpoint": delivered.endpoint,
        "webhookevent": delivered.event,
        "webhookdelivery": delivered,
        "webhookattempt": WebhookAttempt.objects.get(),
    }[page.split("_")[0]]
    args = () if page.endswith(("_changelist", "_add")) else (obj.pk,)
    response = admin_client.get(url(page, *args))
    assert response.status_code == 200
    body = response.content.decode()
    if not page.endswith("_add"):
        assert delivered.endpoint.url in body or str(delivered.event_id) in body
    assert secrets_in(response) == []


@pytest.mark.parametrize(
    ("model", "query"),
    [
        (model, query)
        for model in ("webhookdelivery", "webhookattempt", "webhookevent")
        for query in ("?q=not-a-uuid", "?q=" + "0" * 32)
    ]
    + [
        ("webhookdelivery", "?endpoint=not-a-uuid"),
        ("webhookattempt", "?endpoint=not-a-uuid"),
    ],
)
def test_odd_searches_and_filters_find_nothing_rather_than_fail(
    admin_client, delivered, model, query
):
    response = admin_client.get(url(f"{model}_changelist") + query)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
