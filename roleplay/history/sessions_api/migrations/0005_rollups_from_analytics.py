import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The daily rollups and rep spans move here from the analytics app: derived data of the
    sessions, kept by the session write path. State only: the tables keep their names
    (analytics_*), constraints and indexes, so no SQL runs."""

    dependencies = [
        ("analytics", "0002_rep_spans"),
        ("sessions_api", "0004_drop_implied_fks"),
        ("tenants", "0003_token_rate_limit_bounds"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ScenarioDay",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("day", models.DateField()),
                        ("sessions", models.PositiveIntegerField()),
                        ("scored", models.PositiveIntegerField()),
                        ("score_total", models.PositiveBigIntegerField()),
                        ("scenario", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="sessions_api.scenario")),
                        ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant")),
                    ],
                    options={
                        "db_table": "analytics_scenarioday",
                        "constraints": [models.UniqueConstraint(fields=("tenant", "scenario", "day"), name="scenarioday_uniq")],
                    },
                ),
                migrations.CreateModel(
                    name="TenantDay",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("day", models.DateField()),
                        ("sessions", models.PositiveIntegerField()),
                        ("scored", models.PositiveIntegerField()),
                        ("score_total", models.PositiveBigIntegerField()),
                        ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant")),
                    ],
                    options={
                        "db_table": "analytics_tenantday",
                        "constraints": [models.UniqueConstraint(fields=("tenant", "day"), name="tenantday_uniq")],
                    },
                ),
                migrations.CreateModel(
                    name="RepSpan",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("first_started_at", models.DateTimeField()),
                        ("last_started_at", models.DateTimeField()),
                        ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant")),
                        ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.rep")),
                    ],
                    options={
                        "db_table": "analytics_repspan",
                        "constraints": [models.UniqueConstraint(fields=("tenant", "user"), name="repspan_uniq")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
