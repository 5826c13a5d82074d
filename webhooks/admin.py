"""Operators' webhooks: endpoints are created, edited, enabled and disabled, rotated and re-sent
to here, always through webhooks/services.py; events, deliveries and attempts are only read.

A signing secret is shown once, on the page that answers its creation or rotation, as the API
token admin shows a new token (tenants/admin.py): never stored elsewhere, logged or put in a
message (messages can travel in cookies), and never shown again.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from tenants.admin import TenantOwnedAdmin

from .models import EVENT_TYPES, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .services import (
    CHUNK,
    ROTATION_OVERLAP,
    deliveries_resend,
    endpoint_disable,
    endpoint_enable,
    endpoint_rotate_secret,
    endpoint_save,
    event_types_clean,
    url_check,
)

TEMPLATES = "admin/webhooks/webhookendpoint"
ATTEMPTS_SHOWN = 50  # on a delivery's page; the attempts list has them all


def _when(value) -> str:
    # format_html escapes its arguments to strings first: format the date before.
    return "-" if value is None else f"{localtime(value):%Y-%m-%d %H:%M:%S}"


def _changelist(model, **params) -> str:
    url = reverse(f"admin:webhooks_{model._meta.model_name}_changelist")
    query = "&".join(f"{name}={value}" for name, value in params.items())
    return f"{url}?{query}" if query else url


def _change(obj) -> str:
    return reverse(f"admin:webhooks_{obj._meta.model_name}_change", args=[obj.pk])


class UnscopedAdmin(admin.ModelAdmin):
    """Operators see every tenant: through ``unscoped``, the manager that says so (the scoped
    ``objects`` refuses to run without a tenant)."""

    def get_queryset(self, request):
        manager = getattr(self.model, "unscoped", self.model._default_manager)
        qs = manager.get_queryset()
        ordering = self.get_ordering(request)
        return qs.order_by(*ordering) if ordering else qs


class ReadOnlyAdmin(UnscopedAdmin):
    """What the worker writes: operators read it, and change it only through the actions (which
    call the services)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class EndpointFilter(admin.SimpleListFilter):
    """By endpoint, named with its tenant: two tenants may well post to the same URL."""

    title = "endpoint"
    parameter_name = "endpoint"

    def lookups(self, request, model_admin):
        endpoints = WebhookEndpoint.unscoped.select_related("tenant").order_by(
            "tenant__name", "url"
        )
        return [(str(e.pk), f"{e.url} ({e.tenant.name})") for e in endpoints]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        try:
            return queryset.filter(endpoint_id=uuid.UUID(self.value()))
        except ValueError:
            return queryset.none()


# -- endpoints ----------------------------------------------------------------------------------


class WebhookEndpointForm(forms.ModelForm):
    # A URL typed without a scheme is meant as https: the only one allowed in production.
    url = forms.URLField(
        max_length=2000,
        assume_scheme="https",
        help_text="https:// and a public address: it is checked now and at every delivery.",
    )
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EVENT_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="None checked: every type, including types added later.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["tenant", "url", "event_types", "description"]

    def clean(self):
        cleaned = super().clean()
        # The services' own rules, so that a refusal is an error on its field rather than an
        # error page when save_model calls endpoint_save.
        if "event_types" in cleaned:
            try:
                cleaned["event_types"] = event_types_clean(cleaned["event_types"])
            except ValidationError as exc:
                self.add_error(None, exc)
        if cleaned.get("url"):
            try:
                url_check(cleaned["url"])
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned


class ResendForm(forms.Form):
    since = forms.DateTimeField(
        help_text="ISO 8601, e.g. 2026-12-01T00:00:00Z (without an offset: UTC).",
        widget=forms.TextInput(attrs={"size": 28}),
    )
    failed_only = forms.BooleanField(required=False, label="Only the events whose delivery failed")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantOwnedAdmin, UnscopedAdmin):
    form = WebhookEndpointForm
    list_display = [
        "url",
        "tenant",
        "types",
        "enabled",
        "disabled_reason",
        "description",
        "created_at",
        "deliveries",
    ]
    list_filter = ["enabled", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["url", "description", "tenant__name", "tenant__slug", "=id"]
    ordering = ["tenant__name", "url"]
    actions = ["enable", "disable", "rotate_secret"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "url", "event_types", "description"]
        # Enabled and disabled only by the actions: endpoint_disable also fails what is pending,
        # endpoint_enable wakes the worker; a checkbox saved by endpoint_save would do neither.
        return [
            "id",
            "tenant",
            "url",
            "event_types",
            "description",
            "enabled",
            "disabled_reason",
            "signing_secret",
            "deliveries_link",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is None:
            return fields
        return [
            *fields,
            "id",
            "enabled",
            "disabled_reason",
            "signing_secret",
            "deliveries_link",
            "created_at",
        ]

    # No delete in the services: an endpoint that should stop receiving is disabled, and keeps
    # its deliveries for the record.
    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/rotate-secret/",
                view(self.rotate_view),
                name="{}_{}_rotate".format(*info),
            ),
            path(
                "<path:object_id>/resend/",
                view(self.resend_view),
                name="{}_{}_resend".format(*info),
            ),
            *super().get_urls(),
        ]

    def changeform_view(self, request, *args, **kwargs):
        # The form ran the services' checks; DNS can still answer differently by the time
        # endpoint_save checks again. Its transaction is rolled back by then: nothing is written.
        try:
            return super().changeform_view(request, *args, **kwargs)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request, obj: WebhookEndpoint, form, change: bool) -> None:
        _endpoint, secret = endpoint_save(endpoint=obj)
        if secret is not None:
            # Kept on the request only, for response_add.
            request._webhook_secret = secret

    def response_add(self, request, obj: WebhookEndpoint, post_url_continue=None):
        secret = getattr(request, "_webhook_secret", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        return self._secrets_page(request, [(obj, secret)], rotated=False)

    def _secrets_page(self, request, shown, *, rotated: bool):
        response = TemplateResponse(
            request,
            f"{TEMPLATES}/secret.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "shown": shown,
                "rotated": rotated,
                "overlap_hours": int(ROTATION_OVERLAP.total_seconds() // 3600),
                "title": "Signing secret rotated" if rotated else "Webhook endpoint created",
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    # -- what the list and the page show

    @admin.display(description="event types")
    def types(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) if obj.event_types else "all"

    @admin.display(description="signing secret")
    def signing_secret(self, obj: WebhookEndpoint) -> str:
        told = "Hidden: shown once, when the endpoint was created or its secret rotated."
        expires = obj.previous_secret_expires_at
        if obj.previous_secret and expires is not None and expires > timezone.now():
            return format_html(
                "{} The previous secret stays valid until {}: every delivery carries both "
                "signatures until then.",
                told,
                _when(expires),
            )
        return told

    @admin.display(description="deliveries")
    def deliveries(self, obj: WebhookEndpoint) -> str:
        # No count in the list: one per row, over the largest table.
        return format_html(
            '<a href="{}">Deliveries</a>', _changelist(WebhookDelivery, endpoint=obj.pk)
        )

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: WebhookEndpoint) -> str:
        if obj.pk is None:
            return "-"
        count = WebhookDelivery.objects.filter(endpoint=obj).count()
        return format_html(
            '<a href="{}">Deliveries ({})</a> · <a href="{}">Attempts</a>',
            _changelist(WebhookDelivery, endpoint=obj.pk),
            count,
            _changelist(WebhookAttempt, endpoint=obj.pk),
        )

    # -- actions

    @admin.action(description="Enable selected endpoints", permissions=["change"])
    def enable(self, request, queryset) -> None:
        enabled = 0
        for endpoint in queryset.filter(enabled=False):
            endpoint_enable(endpoint=endpoint)
            self.log_change(request, endpoint, "Enabled.")
            enabled += 1
        self.message_user(
            request,
            f"Enabled {enabled} endpoint(s). What failed while disabled is not re-sent by this: "
            "use “Re-send events” on the endpoint's page.",
            messages.SUCCESS,
        )

    @admin.action(
        description="Disable selected endpoints (their pending deliveries fail)",
        permissions=["change"],
    )
    def disable(self, request, queryset) -> None:
        reason = f"Disabled in admin by {request.user.get_username()}."
        disabled = 0
        # Already disabled ones keep the reason they have (a 410, the failing hours).
        for endpoint in queryset.filter(enabled=True):
            endpoint_disable(endpoint_id=endpoint.pk, reason=reason)
            self.log_change(request, endpoint, "Disabled.")
            disabled += 1
        self.message_user(request, f"Disabled {disabled} endpoint(s).", messages.SUCCESS)

    @admin.action(
        description="Rotate the signing secret of selected endpoints", permissions=["change"]
    )
    def rotate_secret(self, request, queryset):
        shown = []
        for endpoint in queryset:
            shown.append((endpoint, endpoint_rotate_secret(endpoint=endpoint)))
            self.log_change(request, endpoint, "Rotated the signing secret.")
        return self._secrets_page(request, shown, rotated=True)

    # -- the pages of the change page's buttons

    def _endpoint_or_redirect(self, request, object_id):
        endpoint = self.get_object(request, object_id)
        if endpoint is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return endpoint, None

    def _page_context(self, request, endpoint, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": endpoint,
            "title": title,
        }

    def rotate_view(self, request, object_id):
        endpoint, redirect = self._endpoint_or_redirect(request, object_id)
        if redirect is not None:
            return redirect
        if request.method == "POST":
            secret = endpoint_rotate_secret(endpoint=endpoint)
            self.log_change(request, endpoint, "Rotated the signing secret.")
            return self._secrets_page(request, [(endpoint, secret)], rotated=True)
        # A confirmation first: a GET must not change anything.
        return TemplateResponse(
            request,
            f"{TEMPLATES}/rotate.html",
            {
                **self._page_context(request, endpoint, "Rotate the signing secret"),
                "overlap_hours": int(ROTATION_OVERLAP.total_seconds() // 3600),
            },
        )

    def resend_view(self, request, object_id):
        endpoint, redirect = self._endpoint_or_redirect(request, object_id)
        if redirect is not None:
            return redirect
        if request.method == "POST":
            form = ResendForm(request.POST)
            if form.is_valid() and not endpoint.enabled:
                # Nothing is delivered to a disabled endpoint: the re-send would sit pending.
                form.add_error(
                    None,
                    f"This endpoint is disabled ({endpoint.disabled_reason or 'by hand'}): "
                    "enable it first.",
                )
            if form.is_valid():
                since, failed_only = form.cleaned_data["since"], form.cleaned_data["failed_only"]
                count = deliveries_resend(endpoint=endpoint, since=since, failed_only=failed_only)
                which = "failed event(s)" if failed_only else "event(s)"
                self.log_change(
                    request, endpoint, f"Re-sent {count} {which} since {since.isoformat()}."
                )
                self.message_user(
                    request,
                    f"Re-queued {count} {which} since {_when(since)} for {endpoint.url}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(_changelist(WebhookDelivery, endpoint=endpoint.pk))
        else:
            since = (timezone.now() - timedelta(days=1)).replace(microsecond=0)
            form = ResendForm(initial={"since": since.isoformat()})
        return TemplateResponse(
            request,
            f"{TEMPLATES}/resend.html",
            {**self._page_context(request, endpoint, "Re-send events"), "form": form},
        )


# -- what the worker writes: read only ----------------------------------------------------------


def _pretty(text: str) -> str:
    try:
        shown = json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except ValueError:
        shown = text
    return format_html('<pre style="white-space:pre-wrap">{}</pre>', shown)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "type", "object_id", "tenant", "id"]
    list_filter = ["type", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["=id", "=object_id"]
    ordering = ["-created_at", "-id"]
    fields = [
        "id",
        "tenant",
        "type",
        "object",
        "object_id",
        "created_at",
        "deliveries_link",
        "payload",
    ]
    readonly_fields = ["deliveries_link", "payload"]

    def get_queryset(self, request):
        # A page of payloads can weigh megabytes, and no column shows them.
        return super().get_queryset(request).defer("data")

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: WebhookEvent) -> str:
        count = WebhookDelivery.objects.filter(event=obj).count()
        return format_html(
            '<a href="{}">Deliveries ({})</a>', _changelist(WebhookDelivery, event=obj.pk), count
        )

    @admin.display(description="data")
    def payload(self, obj: WebhookEvent) -> str:
        return _pretty(obj.data)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "webhook_id",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_attempt_at",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", EndpointFilter]
    list_select_related = ["event", "endpoint"]
    list_per_page = 50
    search_fields = ["=event__id", "=event__object_id"]
    ordering = ["-created_at", "-id"]
    actions = ["resend"]
    fields = [
        "webhook_id",
        "event_type",
        "endpoint_link",
        "status",
        "attempts",
        "failures",
        "last_attempt_at",
        "next_attempt_at",
        "created_at",
        "attempts_table",
    ]
    readonly_fields = ["webhook_id", "event_type", "endpoint_link", "attempts_table"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("event__data")

    def has_resend_permission(self, request) -> bool:
        # Re-sending changes what the endpoint is owed: the endpoint's change permission.
        return request.user.has_perm("webhooks.change_webhookendpoint")

    @admin.display(description="webhook-id", ordering="event_id")
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return str(obj.event_id)

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, obj: WebhookDelivery) -> str:
        return format_html('<a href="{}">{}</a>', _change(obj.event), obj.event.type)

    @admin.display(description="endpoint")
    def endpoint_link(self, obj: WebhookDelivery) -> str:
        return format_html('<a href="{}">{}</a>', _change(obj.endpoint), obj.endpoint.url)

    @admin.display(description="attempts, latest first")
    def attempts_table(self, obj: WebhookDelivery) -> str:
        found = WebhookAttempt.objects.filter(delivery=obj)
        latest = list(found.order_by("-at", "-id")[:ATTEMPTS_SHOWN])
        if not latest:
            return "(none yet)"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td style='white-space:pre-wrap'>"
            "{}</td><td><pre style='white-space:pre-wrap;margin:0'>{}</pre></td></tr>",
            (
                (
                    _when(a.at),
                    a.status_code if a.status_code is not None else "-",
                    a.duration_ms,
                    "ok" if a.ok else "failed",
                    a.error,
                    a.response,
                )
                for a in latest
            ),
        )
        table = format_html(
            "<table><thead><tr><th>at</th><th>status</th><th>ms</th><th>outcome</th>"
            "<th>error</th><th>answer (first 1 KB)</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )
        total = found.count()
        if total <= len(latest):
            return table
        return format_html(
            '{}<p><a href="{}">All {} attempts</a></p>',
            table,
            _changelist(WebhookAttempt, delivery=obj.pk),
            total,
        )

    @admin.action(
        description="Re-send the selected deliveries' events (same webhook-id)",
        permissions=["resend"],
    )
    def resend(self, request, queryset) -> None:
        by_endpoint: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        for endpoint_id, event_id in queryset.order_by().values_list("endpoint_id", "event_id"):
            by_endpoint[endpoint_id].append(event_id)
        endpoints = WebhookEndpoint.unscoped.in_bulk(list(by_endpoint))
        queued, skipped = 0, []
        for endpoint_id, event_ids in by_endpoint.items():
            endpoint = endpoints[endpoint_id]
            if not endpoint.enabled:
                skipped.append(endpoint.url)
                continue
            for start in range(0, len(event_ids), CHUNK):
                queued += deliveries_resend(
                    endpoint=endpoint, event_ids=event_ids[start : start + CHUNK]
                )
        self.message_user(request, f"Re-queued {queued} delivery(ies).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"Not re-sent, the endpoint is disabled (enable it first): {', '.join(skipped)}.",
                messages.WARNING,
            )


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = ["at", "endpoint", "event_type", "status_code", "duration_ms", "ok", "error"]
    list_filter = ["ok", EndpointFilter]
    list_select_related = ["endpoint", "delivery__event"]
    search_fields = ["=delivery__event__id"]
    ordering = ["-at", "-id"]
    fields = [
        "at",
        "delivery_link",
        "endpoint",
        "status_code",
        "duration_ms",
        "ok",
        "error",
        "answer",
    ]
    readonly_fields = ["delivery_link", "answer"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("delivery__event__data")

    @admin.display(description="event type", ordering="delivery__event__type")
    def event_type(self, obj: WebhookAttempt) -> str:
        return obj.delivery.event.type

    @admin.display(description="delivery")
    def delivery_link(self, obj: WebhookAttempt) -> str:
        return format_html(
            '<a href="{}">{} ({})</a>',
            _change(obj.delivery),
            obj.delivery.event_id,
            obj.delivery.event.type,
        )

    @admin.display(description="answer (first 1 KB)")
    def answer(self, obj: WebhookAttempt) -> str:
        return format_html('<pre style="white-space:pre-wrap">{}</pre>', obj.response)
