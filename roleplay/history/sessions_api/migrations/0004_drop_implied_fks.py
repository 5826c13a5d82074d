from django.db import migrations

from core.migration_ops import drop_implied_fk


class Migration(migrations.Migration):
    """PostgreSQL: the same-tenant keys of 0002 enforce what these single-column keys did
    (see drop_implied_fk). SQLite keeps them: it has no same-tenant keys."""

    dependencies = [
        ("sessions_api", "0003_scenario_user_index"),
    ]

    operations = [
        drop_implied_fk("sessions_api_session", "tenant_id", "tenants_tenant"),
        drop_implied_fk("sessions_api_session", "user_id", "tenants_rep"),
        drop_implied_fk("sessions_api_session", "scenario_id", "sessions_api_scenario"),
    ]
