from django.db import migrations


class Migration(migrations.Migration):
    """Scenarios, sessions and the rollups now belong to roleplay (its 0001): removed from this app's
    state only; the tables stay as they are, rows and all."""

    dependencies = [
        ('scorecards', '0005_hand_over_to_roleplay'),
        ('sessions_api', '0007_sync'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='scenario',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='session',
                    name='scenario',
                ),
                migrations.RemoveField(
                    model_name='scenarioday',
                    name='scenario',
                ),
                migrations.RemoveField(
                    model_name='scenarioday',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='session',
                    name='tenant',
                ),
                migrations.RemoveField(
                    model_name='session',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='tenantday',
                    name='tenant',
                ),
                migrations.DeleteModel(
                    name='RepSpan',
                ),
                migrations.DeleteModel(
                    name='Scenario',
                ),
                migrations.DeleteModel(
                    name='ScenarioDay',
                ),
                migrations.DeleteModel(
                    name='Session',
                ),
                migrations.DeleteModel(
                    name='TenantDay',
                ),
            ],
            database_operations=[],
        ),
    ]
