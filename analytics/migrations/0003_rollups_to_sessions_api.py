from django.db import migrations


class Migration(migrations.Migration):
    """The rollups now belong to sessions_api (its 0005): removed from this app's state only,
    the tables stay as they are."""

    dependencies = [
        ("analytics", "0002_rep_spans"),
        ("sessions_api", "0005_rollups_from_analytics"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ScenarioDay"),
                migrations.DeleteModel(name="TenantDay"),
                migrations.DeleteModel(name="RepSpan"),
            ],
            database_operations=[],
        ),
    ]
