import django.db.models.deletion
import django.db.models.manager
import uuid
from django.db import migrations, models


class Migration(migrations.Migration):
    """Reps, scenarios, sessions, scorecards and the rollups, moved here from tenants, sessions_api
    and scorecards with their tables (db_table): state only, no SQL. A database made before the
    move keeps every row; a new one gets its tables from those apps' migrations, which stay in
    roleplay/history under their old labels."""

    initial = True

    dependencies = [
        ('tenants', '0005_hand_over_reps_and_deletions'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Rep',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('full_name', models.CharField(max_length=200)),
                        ('email', models.EmailField(blank=True, default='', max_length=254)),
                        ('role', models.CharField(choices=[('rep', 'Rep'), ('manager', 'Manager'), ('admin', 'Admin')], default='rep', max_length=16)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(editable=False)),
                        ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant')),
                    ],
                    options={
                        'verbose_name': 'user (rep)',
                        'verbose_name_plural': 'users (reps)',
                        'db_table': 'tenants_rep',
                        'abstract': False,
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
                migrations.CreateModel(
                    name='RepSpan',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('first_started_at', models.DateTimeField()),
                        ('last_started_at', models.DateTimeField()),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='roleplay.rep')),
                    ],
                    options={
                        'db_table': 'analytics_repspan',
                        'abstract': False,
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
                migrations.CreateModel(
                    name='Scenario',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('name', models.CharField(max_length=200)),
                        ('call_type', models.CharField(max_length=64)),
                        ('status', models.CharField(choices=[('active', 'Active'), ('archived', 'Archived')], default='active', max_length=16)),
                        ('created_at', models.DateTimeField()),
                        ('updated_at', models.DateTimeField(editable=False)),
                        ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant')),
                    ],
                    options={
                        'db_table': 'sessions_api_scenario',
                        'abstract': False,
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
                migrations.CreateModel(
                    name='ScenarioDay',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('sessions', models.PositiveIntegerField()),
                        ('scored', models.PositiveIntegerField()),
                        ('score_total', models.PositiveBigIntegerField()),
                        ('scenario', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='roleplay.scenario')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant')),
                    ],
                    options={
                        'db_table': 'analytics_scenarioday',
                        'abstract': False,
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
                migrations.CreateModel(
                    name='Session',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('status', models.CharField(choices=[('in_progress', 'In progress'), ('completed', 'Completed (not scored yet)'), ('scored', 'Scored'), ('abandoned', 'Abandoned'), ('failed', 'Failed')], max_length=16)),
                        ('started_at', models.DateTimeField()),
                        ('ended_at', models.DateTimeField(blank=True, null=True)),
                        ('duration_seconds', models.PositiveIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField()),
                        ('transcript', models.JSONField(blank=True, default=list)),
                        ('updated_at', models.DateTimeField(editable=False)),
                        ('scenario', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sessions', to='roleplay.scenario')),
                        ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sessions', to='roleplay.rep')),
                    ],
                    options={
                        'db_table': 'sessions_api_session',
                        'abstract': False,
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
                migrations.CreateModel(
                    name='Scorecard',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('overall_score', models.PositiveSmallIntegerField()),
                        ('verdict', models.CharField(choices=[('crushed_it', 'Crushed it'), ('solid', 'Solid'), ('needs_work', 'Needs work'), ('missed_the_mark', 'Missed the mark')], max_length=16)),
                        ('headline', models.TextField()),
                        ('categories', models.JSONField(blank=True, default=list)),
                        ('callouts', models.JSONField(blank=True, default=list)),
                        ('created_at', models.DateTimeField()),
                        ('updated_at', models.DateTimeField(editable=False)),
                        ('tenant', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenants.tenant')),
                        ('session', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='scorecard', to='roleplay.session')),
                    ],
                    options={
                        'db_table': 'scorecards_scorecard',
                        'abstract': False,
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
                migrations.CreateModel(
                    name='TenantDay',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('day', models.DateField()),
                        ('sessions', models.PositiveIntegerField()),
                        ('scored', models.PositiveIntegerField()),
                        ('score_total', models.PositiveBigIntegerField()),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant')),
                    ],
                    options={
                        'db_table': 'analytics_tenantday',
                        'abstract': False,
                        'base_manager_name': 'unscoped',
                        'default_manager_name': 'unscoped',
                    },
                    managers=[
                        ('unscoped', django.db.models.manager.Manager()),
                    ],
                ),
                migrations.AddIndex(
                    model_name='rep',
                    index=models.Index(fields=['tenant', 'full_name', 'id'], name='rep_tenant_name_idx'),
                ),
                migrations.AddIndex(
                    model_name='rep',
                    index=models.Index(fields=['tenant', 'role', 'full_name', 'id'], name='rep_tenant_role_idx'),
                ),
                migrations.AddIndex(
                    model_name='rep',
                    index=models.Index(fields=['tenant', 'updated_at', 'id'], name='rep_updated_idx'),
                ),
                migrations.AddConstraint(
                    model_name='rep',
                    constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='rep_tenant_id_uniq'),
                ),
                migrations.AddConstraint(
                    model_name='rep',
                    constraint=models.CheckConstraint(condition=models.Q(('role__in', ['rep', 'manager', 'admin'])), name='rep_role_valid'),
                ),
                migrations.AddConstraint(
                    model_name='repspan',
                    constraint=models.UniqueConstraint(fields=('tenant', 'user'), name='repspan_uniq'),
                ),
                migrations.AddIndex(
                    model_name='scenario',
                    index=models.Index(fields=['tenant', 'status', 'name', 'id'], name='scenario_list_idx'),
                ),
                migrations.AddIndex(
                    model_name='scenario',
                    index=models.Index(fields=['tenant', 'updated_at', 'id'], name='scenario_updated_idx'),
                ),
                migrations.AddConstraint(
                    model_name='scenario',
                    constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='scenario_tenant_id_uniq'),
                ),
                migrations.AddConstraint(
                    model_name='scenario',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['active', 'archived'])), name='scenario_status_valid'),
                ),
                migrations.AddConstraint(
                    model_name='scenarioday',
                    constraint=models.UniqueConstraint(fields=('tenant', 'scenario', 'day'), name='scenarioday_uniq'),
                ),
                migrations.AddIndex(
                    model_name='session',
                    index=models.Index(models.F('tenant'), models.OrderBy(models.F('started_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='session_list_idx'),
                ),
                migrations.AddIndex(
                    model_name='session',
                    index=models.Index(models.F('tenant'), models.F('user'), models.OrderBy(models.F('started_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='session_user_idx'),
                ),
                migrations.AddIndex(
                    model_name='session',
                    index=models.Index(models.F('tenant'), models.F('scenario'), models.OrderBy(models.F('started_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='session_scenario_idx'),
                ),
                migrations.AddIndex(
                    model_name='session',
                    index=models.Index(models.F('tenant'), models.F('status'), models.OrderBy(models.F('started_at'), descending=True), models.OrderBy(models.F('id'), descending=True), name='session_status_idx'),
                ),
                migrations.AddIndex(
                    model_name='session',
                    index=models.Index(models.F('tenant'), models.F('updated_at'), models.F('id'), name='session_updated_idx'),
                ),
                migrations.AddIndex(
                    model_name='session',
                    index=models.Index(models.F('tenant'), models.F('scenario'), models.F('user'), models.F('started_at'), name='session_scenario_user_idx'),
                ),
                migrations.AddConstraint(
                    model_name='session',
                    constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='session_tenant_id_uniq'),
                ),
                migrations.AddConstraint(
                    model_name='session',
                    constraint=models.CheckConstraint(condition=models.Q(('status__in', ['in_progress', 'completed', 'scored', 'abandoned', 'failed'])), name='session_status_valid'),
                ),
                migrations.AddConstraint(
                    model_name='session',
                    constraint=models.CheckConstraint(condition=models.Q(('duration_seconds__isnull', True), ('duration_seconds__gte', 0), _connector='OR'), name='session_duration_nonnegative'),
                ),
                migrations.AddConstraint(
                    model_name='session',
                    constraint=models.CheckConstraint(condition=models.Q(('ended_at__isnull', True), ('ended_at__gte', models.F('started_at')), _connector='OR'), name='session_ends_after_start'),
                ),
                migrations.AddIndex(
                    model_name='scorecard',
                    index=models.Index(fields=['tenant', 'updated_at', 'id'], name='scorecard_updated_idx'),
                ),
                migrations.AddConstraint(
                    model_name='scorecard',
                    constraint=models.UniqueConstraint(fields=('tenant', 'id'), name='scorecard_tenant_id_uniq'),
                ),
                migrations.AddConstraint(
                    model_name='scorecard',
                    constraint=models.CheckConstraint(condition=models.Q(('overall_score__gte', 0), ('overall_score__lte', 100)), name='scorecard_score_range'),
                ),
                migrations.AddConstraint(
                    model_name='scorecard',
                    constraint=models.CheckConstraint(condition=models.Q(('verdict__in', ['crushed_it', 'solid', 'needs_work', 'missed_the_mark'])), name='scorecard_verdict_valid'),
                ),
                migrations.AddConstraint(
                    model_name='tenantday',
                    constraint=models.UniqueConstraint(fields=('tenant', 'day'), name='tenantday_uniq'),
                ),
            ],
            database_operations=[],
        ),
    ]
