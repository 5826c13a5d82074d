from django.db import migrations


class Migration(migrations.Migration):
    """Rep now belongs to roleplay, Deletion to sync (their 0001): removed from this app's state
    only; the tables (tenants_rep, tenants_deletion) stay as they are, rows and all."""

    dependencies = [
        ('sessions_api', '0008_hand_over_to_roleplay'),
        ('tenants', '0004_sync'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='rep',
                    name='tenant',
                ),
                migrations.DeleteModel(
                    name='Deletion',
                ),
                migrations.DeleteModel(
                    name='Rep',
                ),
            ],
            database_operations=[],
        ),
    ]
