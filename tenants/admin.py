from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from . import tokens
from .models import ApiToken, Tenant, TenantOwned, time_zone_names
from .scopes import ALL_SCOPES, SCOPES
from .services import (
    TokenCachesStale,
    tenant_delete,
    tenant_upsert,
    token_bulk_delete,
    token_bulk_revoke,
    token_delete,
    token_save,
)


class TenantOwnedAdmin(admin.ModelAdmin):
    """A row stays with its tenant, and what it belongs to stays put: moving either would leave
    rows pointing across tenants, or a scored session without its scorecard.

    Subclasses save and delete through their app's services (``save_model``, ``delete_model``,
    ``delete_queryset``, which "delete selected" uses), never the model's own save or delete.
    """

    fixed_after_creation: tuple[str, ...] = ("tenant",)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += [name for name in self.fixed_after_creation if name not in fields]
        return fields


class TellsServersAdmin(admin.ModelAdmin):
    """For the models the servers cache (tokens, tenants): a change that committed but could not
    reach the servers' caches is an error on the page, never a success or an error page."""

    def _telling_servers(self, view, request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except TokenCachesStale as stale:
            self.message_user(request, str(stale), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def changeform_view(self, request, *args, **kwargs):
        return self._telling_servers(super().changeform_view, request, *args, **kwargs)

    def changelist_view(self, request, *args, **kwargs):
        return self._telling_servers(super().changelist_view, request, *args, **kwargs)

    def delete_view(self, request, *args, **kwargs):
        return self._telling_servers(super().delete_view, request, *args, **kwargs)


class TimeZoneInput(forms.TextInput):
    """Text, offered the known IANA names as the operator types; the model's validator refuses
    any other (a form error under the field)."""

    LIST_ID = "time-zone-names"

    def __init__(self, attrs=None):
        super().__init__({"list": self.LIST_ID, "autocomplete": "off", **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        names = format_html_join(
            "", '<option value="{}">', ((n,) for n in sorted(time_zone_names()))
        )
        return super().render(name, value, attrs, renderer) + format_html(
            '<datalist id="{}">{}</datalist>', self.LIST_ID, names
        )


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["slug", "name", "time_zone", "is_active"]
        widgets = {"time_zone": TimeZoneInput}


@admin.register(Tenant)
class TenantAdmin(TellsServersAdmin):
    form = TenantForm
    list_display = ["name", "slug", "time_zone", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "=id"]
    readonly_fields = ["id", "created_at"]
    ordering = ["name"]

    # A tenant with data is deactivated (is_active), never deleted: its rows are PROTECTed, and
    # Django's delete page would load every one of them (transcripts too) only to say so, which
    # took 8 s for 12,000 sessions. An empty tenant, made by mistake, can still go.
    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is None:
            return False  # no bulk "delete selected": it collects every row of every tenant
        owns_rows = any(
            model._base_manager.filter(tenant=obj).exists()
            for model in apps.get_models()
            if issubclass(model, TenantOwned)
        )
        return not owns_rows and super().has_delete_permission(request, obj)

    def save_model(self, request, obj: Tenant, form, change: bool) -> None:
        tenant_upsert(tenant=obj)

    def delete_model(self, request, obj: Tenant) -> None:
        tenant_delete(tenant=obj)


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(name, f"{name} — {text}") for name, text in SCOPES.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiToken
        fields = ["tenant", "name", "scopes", "expires_at", "rate_limit_per_minute"]

    def clean_scopes(self) -> list[str]:
        chosen = set(self.cleaned_data["scopes"])
        return [name for name in ALL_SCOPES if name in chosen]


@admin.register(ApiToken)
class ApiTokenAdmin(TellsServersAdmin):
    form = ApiTokenForm
    list_display = [
        "name",
        "tenant",
        "masked",
        "scope_list",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["tenant", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["tenant"]
    search_fields = ["name", "prefix", "tenant__name", "tenant__slug"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # The tenant of an existing token never changes; its secret is gone for good.
        return ["tenant", "masked", "created_at", "last_used_at", "revoked_at"]

    def get_fields(self, request, obj=None):
        fields = ["tenant", "name", "scopes", "expires_at", "rate_limit_per_minute"]
        if obj is not None:
            fields = ["masked", *fields, "created_at", "last_used_at", "revoked_at"]
        return fields

    @admin.display(description="token")
    def masked(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…{obj.last_four}"

    @admin.display(description="scopes")
    def scope_list(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes)

    def save_model(self, request, obj: ApiToken, form, change: bool) -> None:
        if not change:
            raw = tokens.generate()
            obj.set_raw_token(raw)
            # Kept on the request only, for response_add: never stored, logged or put in a message
            # (messages can travel in cookies).
            request._raw_api_token = raw
        token_save(token=obj)

    def delete_model(self, request, obj: ApiToken) -> None:
        token_delete(token=obj)

    def delete_queryset(self, request, queryset) -> None:
        token_bulk_delete(tokens=queryset)

    def response_add(self, request, obj: ApiToken, post_url_continue=None):
        raw = getattr(request, "_raw_api_token", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/tenants/apitoken/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "token": obj,
                "raw_token": raw,
                "title": "API token created",
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected tokens (effective on their next request)")
    def revoke(self, request, queryset) -> None:
        revoked = token_bulk_revoke(tokens=queryset)
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)
