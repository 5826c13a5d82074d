from django.db import migrations

from core.migration_ops import same_tenant_fk


class Migration(migrations.Migration):
    """No session may point at another tenant's rep or scenario, enforced by PostgreSQL."""

    dependencies = [
        ("sessions_api", "0001_initial"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        same_tenant_fk("sessions_api_session", "user_id", "tenants_rep"),
        same_tenant_fk("sessions_api_session", "scenario_id", "sessions_api_scenario"),
    ]
