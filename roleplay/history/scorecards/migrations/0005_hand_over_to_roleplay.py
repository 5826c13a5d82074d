from django.db import migrations


class Migration(migrations.Migration):
    """Scorecard now belongs to roleplay (its 0001): removed from this app's state only; the table
    (scorecards_scorecard) stays as it is, rows and all."""

    dependencies = [
        ('scorecards', '0004_sync'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='Scorecard',
                ),
            ],
            database_operations=[],
        ),
    ]
