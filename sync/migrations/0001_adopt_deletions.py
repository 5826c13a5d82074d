import django.db.models.deletion
import django.db.models.manager
from django.db import migrations, models


class Migration(migrations.Migration):
    """Deletion (the tombstones), moved here from tenants with its table (tenants_deletion): state
    only, no SQL."""

    initial = True

    dependencies = [
        ('tenants', '0005_hand_over_reps_and_deletions'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Deletion',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('object', models.CharField(choices=[('session', 'Session'), ('scorecard', 'Scorecard'), ('scenario', 'Scenario'), ('user', 'User')], max_length=16)),
                        ('object_id', models.UUIDField()),
                        ('deleted_at', models.DateTimeField()),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant')),
                    ],
                    options={
                        'db_table': 'tenants_deletion',
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                        'indexes': [models.Index(fields=['tenant', 'deleted_at', 'object_id'], name='deletion_list_idx')],
                        'constraints': [models.UniqueConstraint(fields=('object', 'object_id', 'tenant'), name='deletion_object_uniq'), models.CheckConstraint(condition=models.Q(('object__in', ['session', 'scorecard', 'scenario', 'user'])), name='deletion_object_valid')],
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
            ],
            database_operations=[],
        ),
    ]
