"""The rollups (roleplay's derived data), for operators to read."""

from django.contrib import admin

from roleplay.models import RepBucket, ScenarioDay, TenantDay


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


@admin.register(RepBucket)
class RepBucketAdmin(RollupAdmin):
    """The breakdowns' rollups: a rep's day, ISO week or month in the tenant's time zone."""

    list_display = ["start", "unit", "user", "tenant", "sessions", "scored", "score_total"]
    list_filter = ["tenant", "unit"]
    list_select_related = ["tenant", "user"]
    date_hierarchy = "start"
    ordering = ["-start"]
