import json
from collections.abc import Sequence

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from tenants.admin import TenantAdmin, TenantOwnedAdmin
from tenants.models import Tenant

from .models import Rep, Scenario, Scorecard, Session
from .scoring import scorecard_bulk_delete, scorecard_delete, scorecard_upsert
from .services import (
    rep_bulk_delete,
    rep_delete,
    rep_upsert,
    scenario_bulk_delete,
    scenario_delete,
    scenario_upsert,
    session_bulk_delete,
    session_delete,
    session_upsert,
    tenant_save,
)


class TimeZoneAwareTenantAdmin(TenantAdmin):
    """The Tenant admin of tenants/, saving through roleplay's ``tenant_save``: a new time zone
    rebuilds the tenant's local rollups in the same transaction (tenants/ cannot know them)."""

    def save_model(self, request, obj: Tenant, form, change: bool) -> None:
        tenant_save(tenant=obj)


admin.site.unregister(Tenant)
admin.site.register(Tenant, TimeZoneAwareTenantAdmin)


def titled_choices_filter(title: str) -> type[admin.ChoicesFieldListFilter]:
    """A choices filter under ``title``: Django titles it after the field, so the session list's
    own status and its scenario's status both read "By status"."""

    class Titled(admin.ChoicesFieldListFilter):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return Titled


SessionStatusFilter = titled_choices_filter("session status")
ScenarioStatusFilter = titled_choices_filter("scenario status")


@admin.register(Scenario)
class ScenarioAdmin(TenantOwnedAdmin):
    list_display = ["name", "call_type", "status", "tenant", "created_at"]
    list_filter = ["tenant", ("status", ScenarioStatusFilter), "call_type"]
    list_select_related = ["tenant"]
    search_fields = ["name", "call_type", "=id"]
    readonly_fields = ["id"]
    ordering = ["tenant__name", "status", "name"]

    def save_model(self, request, obj: Scenario, form, change: bool) -> None:
        scenario_upsert(scenario=obj)

    def delete_model(self, request, obj: Scenario) -> None:
        scenario_delete(scenario=obj)

    def delete_queryset(self, request, queryset) -> None:
        scenario_bulk_delete(scenarios=queryset)


class SessionChangeList(ChangeList):
    # No column shows the transcript, and a page of them can weigh megabytes.
    def get_queryset(self, request, exclude_parameters=None):
        return super().get_queryset(request, exclude_parameters).defer("transcript")


def _scorecard_of(session: Session):
    if session.pk is None:
        return None
    try:
        return session.scorecard
    except ObjectDoesNotExist:  # scorecards sits above this app: its model is not imported
        return None


@admin.register(Session)
class SessionAdmin(TenantOwnedAdmin):
    # What an operator scans for first, the tenant last. Columns of their own rather than the
    # fields: admin keeps dates and foreign keys on one line, and with those the list and its
    # filters overflowed a 1366 px screen.
    list_display = ["started", "rep", "scenario_name", "status", "duration", "score", "tenant_name"]
    list_filter = [
        "tenant",
        ("status", SessionStatusFilter),
        ("scenario__status", ScenarioStatusFilter),
    ]
    # The scorecard too: the score column would otherwise cost a query per row.
    list_select_related = ["tenant", "user", "scenario", "scorecard"]
    search_fields = ["=id", "user__full_name", "user__email", "scenario__name"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    # Pickers instead of <select>s with every rep and scenario of every tenant.
    raw_id_fields = ["user", "scenario"]
    fields = [
        "id",
        "tenant",
        "user",
        "scenario",
        "status",
        "scorecard_link",
        "started_at",
        "ended_at",
        "duration_seconds",
        "created_at",
        "transcript_view",
    ]
    # Transcripts come from the role-play engine; operators read them, they do not rewrite them.
    readonly_fields = ["id", "created_at", "scorecard_link", "transcript_view"]

    def get_changelist(self, request, **kwargs):
        return SessionChangeList

    def save_model(self, request, obj: Session, form, change: bool) -> None:
        session_upsert(session=obj)

    def delete_model(self, request, obj: Session) -> None:
        session_delete(session=obj)

    def delete_queryset(self, request, queryset) -> None:
        session_bulk_delete(sessions=queryset)

    @admin.display(description="started at", ordering="started_at")
    def started(self, obj: Session) -> str:
        return format_html(
            '<span class="nowrap">{}</span>', f"{localtime(obj.started_at):%Y-%m-%d %H:%M}"
        )

    @admin.display(description="rep", ordering="user__full_name")
    def rep(self, obj: Session) -> str:
        return obj.user.full_name

    @admin.display(description="scenario", ordering="scenario__name")
    def scenario_name(self, obj: Session) -> str:
        return obj.scenario.name

    @admin.display(description="duration", ordering="duration_seconds")
    def duration(self, obj: Session) -> str | None:
        if obj.duration_seconds is None:
            return None  # the admin's empty value
        minutes, seconds = divmod(obj.duration_seconds, 60)
        return f"{minutes}:{seconds:02d}"

    @admin.display(description="score", ordering="scorecard__overall_score")
    def score(self, obj: Session) -> str | None:
        card = _scorecard_of(obj)
        if card is None:
            return None
        return f"{card.overall_score} · {card.get_verdict_display()}"

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, obj: Session) -> str:
        return obj.tenant.name

    @admin.display(description="scorecard")
    def scorecard_link(self, obj: Session) -> str:
        card = _scorecard_of(obj)
        if card is None:
            return "no scorecard"
        return format_html(
            '<a href="{}">{} · {}: {}</a>',
            reverse("admin:roleplay_scorecard_change", args=[card.pk]),
            card.overall_score,
            card.get_verdict_display(),
            card.headline,
        )

    @admin.display(description="transcript")
    def transcript_view(self, obj: Session) -> str:
        turns = obj.transcript or []
        if not turns:
            return "(empty)"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td><strong>{}</strong></td><td style='white-space:pre-wrap'>{}</td>"
            "</tr>",
            (
                (turn.get("time"), turn.get("role"), turn.get("message"))
                if isinstance(turn, dict)
                else ("", "", json.dumps(turn, ensure_ascii=False))
                for turn in turns
            ),
        )
        return format_html(
            "<table><thead><tr><th>time (s)</th><th>role</th><th>message</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )


@admin.register(Rep)
class RepAdmin(TenantOwnedAdmin):
    list_display = ["full_name", "email", "role", "tenant", "created_at"]
    list_filter = ["tenant", "role"]
    list_select_related = ["tenant"]
    search_fields = ["full_name", "email", "=id"]
    readonly_fields = ["id", "created_at"]
    ordering = ["tenant__name", "full_name"]

    def save_model(self, request, obj: Rep, form, change: bool) -> None:
        rep_upsert(rep=obj)

    def delete_model(self, request, obj: Rep) -> None:
        rep_delete(rep=obj)

    def delete_queryset(self, request, queryset) -> None:
        rep_bulk_delete(reps=queryset)


def _items_table(items, columns: Sequence[tuple[str, str]]) -> str:
    """``items`` (a list of objects) as a table of ``columns`` (key, heading). A form that failed
    validation shows what was typed, so anything else is shown as its JSON."""
    if not items:
        return "(none)"
    if not isinstance(items, list):
        return format_html("<pre>{}</pre>", json.dumps(items, ensure_ascii=False, indent=2))
    width = len(columns)
    rows = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html_join(
                    "",
                    "<td style='white-space:pre-wrap'>{}</td>",
                    ((item.get(key, ""),) for key, _heading in columns),
                )
                if isinstance(item, dict)
                else format_html(
                    "<td colspan='{}'>{}</td>", width, json.dumps(item, ensure_ascii=False)
                ),
            )
            for item in items
        ),
    )
    head = format_html_join("", "<th>{}</th>", ((heading,) for _key, heading in columns))
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, rows)


@admin.register(Scorecard)
class ScorecardAdmin(TenantOwnedAdmin):
    fixed_after_creation = ("tenant", "session")
    list_display = ["created_at", "session", "overall_score", "verdict", "tenant"]
    list_filter = ["tenant", "verdict"]
    list_select_related = ["tenant", "session"]
    search_fields = ["=id", "=session__id", "headline", "session__user__full_name"]
    date_hierarchy = "created_at"
    raw_id_fields = ["session"]
    readonly_fields = ["id", "session_link", "categories_table", "callouts_table"]
    ordering = ["-created_at"]

    def get_fieldsets(self, request, obj=None):
        # Once created, the session is fixed: a link to it says more than its picker would.
        session = "session" if obj is None else "session_link"
        return [
            (
                None,
                {
                    "fields": [
                        "id",
                        "tenant",
                        session,
                        "overall_score",
                        "verdict",
                        "headline",
                        "created_at",
                    ]
                },
            ),
            ("Categories and callouts", {"fields": ["categories_table", "callouts_table"]}),
            (
                # Saved through the same form and rules as the rest; kept out of the way, except
                # on a form shown again after a POST (it has errors): those must be seen.
                "Edit categories and callouts (JSON)",
                {
                    "classes": [] if request.method == "POST" else ["collapse"],
                    "fields": ["categories", "callouts"],
                },
            ),
        ]

    def save_model(self, request, obj: Scorecard, form, change: bool) -> None:
        scorecard_upsert(scorecard=obj)

    def delete_model(self, request, obj: Scorecard) -> None:
        scorecard_delete(scorecard=obj)

    def delete_queryset(self, request, queryset) -> None:
        scorecard_bulk_delete(scorecards=queryset)

    @admin.display(description="session")
    def session_link(self, obj: Scorecard) -> str:
        if obj.session_id is None:
            return "-"
        session = obj.session
        return format_html(
            '<a href="{}">{} · {} · {}</a>',
            reverse("admin:roleplay_session_change", args=[session.pk]),
            session.user,
            session.scenario,
            # format_html escapes its arguments to strings first: format the date before.
            f"{localtime(session.started_at):%Y-%m-%d %H:%M}",
        )

    @admin.display(description="categories")
    def categories_table(self, obj: Scorecard) -> str:
        return _items_table(
            obj.categories,
            [("label", "category"), ("score", "score"), ("feedback", "feedback")],
        )

    @admin.display(description="callouts")
    def callouts_table(self, obj: Scorecard) -> str:
        return _items_table(
            obj.callouts, [("kind", "kind"), ("time", "time (s)"), ("text", "text")]
        )
