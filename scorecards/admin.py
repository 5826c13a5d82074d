import json
from collections.abc import Sequence

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from tenants.admin import TenantOwnedAdmin

from .models import Scorecard
from .services import scorecard_bulk_delete, scorecard_delete, scorecard_upsert


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
            reverse("admin:sessions_api_session_change", args=[session.pk]),
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
