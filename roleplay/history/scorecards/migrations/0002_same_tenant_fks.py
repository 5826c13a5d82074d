from django.db import migrations

from core.migration_ops import same_tenant_fk


class Migration(migrations.Migration):
    """No scorecard may point at another tenant's session, enforced by PostgreSQL."""

    dependencies = [
        ("scorecards", "0001_initial"),
        ("sessions_api", "0002_same_tenant_fks"),
    ]

    operations = [
        same_tenant_fk("scorecards_scorecard", "session_id", "sessions_api_session"),
    ]
