from django.db import migrations

from core.migration_ops import drop_implied_fk


class Migration(migrations.Migration):
    """PostgreSQL: the same-tenant key of 0002 enforces what these single-column keys did
    (see drop_implied_fk). SQLite keeps them: it has no same-tenant keys."""

    dependencies = [
        ("scorecards", "0002_same_tenant_fks"),
    ]

    operations = [
        drop_implied_fk("scorecards_scorecard", "tenant_id", "tenants_tenant"),
        drop_implied_fk("scorecards_scorecard", "session_id", "sessions_api_session"),
    ]
