from django.contrib import admin

from tenants.admin import TenantOwnedAdmin

from .models import Scorecard
from .services import scorecard_bulk_delete, scorecard_delete, scorecard_upsert


@admin.register(Scorecard)
class ScorecardAdmin(TenantOwnedAdmin):
    fixed_after_creation = ("tenant", "session")
    list_display = ["created_at", "session", "overall_score", "verdict", "tenant"]
    list_filter = ["tenant", "verdict"]
    list_select_related = ["tenant", "session"]
    search_fields = ["=id", "=session__id", "headline", "session__user__full_name"]
    date_hierarchy = "created_at"
    raw_id_fields = ["session"]
    readonly_fields = ["id"]
    ordering = ["-created_at"]

    def save_model(self, request, obj: Scorecard, form, change: bool) -> None:
        scorecard_upsert(scorecard=obj)

    def delete_model(self, request, obj: Scorecard) -> None:
        scorecard_delete(scorecard=obj)

    def delete_queryset(self, request, queryset) -> None:
        scorecard_bulk_delete(scorecards=queryset)
