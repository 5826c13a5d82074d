import json

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from tenants.admin import TenantOwnedAdmin

from .models import Scenario, Session
from .services import (
    scenario_bulk_delete,
    scenario_delete,
    scenario_upsert,
    session_bulk_delete,
    session_delete,
    session_upsert,
)


@admin.register(Scenario)
class ScenarioAdmin(TenantOwnedAdmin):
    list_display = ["name", "call_type", "status", "tenant", "created_at"]
    list_filter = ["tenant", "status", "call_type"]
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


@admin.register(Session)
class SessionAdmin(TenantOwnedAdmin):
    list_display = [
        "started_at",
        "user",
        "scenario",
        "status",
        "duration_seconds",
        "tenant",
        "turns",
    ]
    list_filter = ["tenant", "status", "scenario__status"]
    list_select_related = ["tenant", "user", "scenario"]
    search_fields = ["=id", "user__full_name", "user__email", "scenario__name"]
    date_hierarchy = "started_at"
    ordering = ["-started_at", "-id"]
    # Pickers instead of <select>s with every rep and scenario of every tenant.
    raw_id_fields = ["user", "scenario"]
    # Transcripts come from the role-play engine; operators read them, they do not rewrite them.
    readonly_fields = ["id", "created_at", "transcript_view"]
    exclude = ["transcript"]

    def save_model(self, request, obj: Session, form, change: bool) -> None:
        session_upsert(session=obj)

    def delete_model(self, request, obj: Session) -> None:
        session_delete(session=obj)

    def delete_queryset(self, request, queryset) -> None:
        session_bulk_delete(sessions=queryset)

    @admin.display(description="turns")
    def turns(self, obj: Session) -> int:
        return len(obj.transcript or [])

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
