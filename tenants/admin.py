from django.contrib import admin

from .models import Rep, Tenant


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "=id"]
    readonly_fields = ["id", "created_at"]
    ordering = ["name"]


@admin.register(Rep)
class RepAdmin(admin.ModelAdmin):
    list_display = ["full_name", "email", "role", "tenant", "created_at"]
    list_filter = ["tenant", "role"]
    list_select_related = ["tenant"]
    search_fields = ["full_name", "email", "=id"]
    readonly_fields = ["id", "created_at"]
    ordering = ["tenant__name", "full_name"]
