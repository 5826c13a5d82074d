"""The rollups (roleplay's derived data), for operators to read."""

from django.contrib import admin

from roleplay.models import ScenarioDay, TenantDay


class RollupAdmin(admin.ModelAdmin):
    """Derived data, rebuilt from sessions by every writer: read-only here."""

    list_filter = ["tenant"]
    date_hierarchy = "day"
    ordering = ["-day"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TenantDay)
class TenantDayAdmin(RollupAdmin):
    list_display = ["day", "tenant", "sessions", "scored", "score_total"]
    list_select_related = ["tenant"]


@admin.register(ScenarioDay)
class ScenarioDayAdmin(RollupAdmin):
    list_display = ["day", "scenario", "tenant", "sessions", "scored", "score_total"]
    list_select_related = ["tenant", "scenario"]
