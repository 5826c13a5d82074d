#!/usr/bin/env bash
# Makes tests/migrations/main-<commit>.sql.gz: a PostgreSQL database migrated and filled by the
# code of <commit> (the demo data, one deletion, a token, an admin user, admin log entries), for
# test_migrate_in_place.py to migrate forward with today's code. Run from the project root with
# the test venv: tests/migrations/make_dump.sh <commit>. Prints the raw token it created.
set -euo pipefail
commit=$(git rev-parse --short "${1:?usage: make_dump.sh <commit>}")
root=$(pwd)
old=$(mktemp -d)
db="dump_src_$$"
trap 'rm -rf "$old"; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" 2>/dev/null' EXIT
git archive "$commit" | tar -x -C "$old"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $db"
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" DJANGO_SETTINGS_MODULE=config.settings.local
py="$root/.venv/bin/python"
cd "$old"  # the old code's packages come first on sys.path
"$py" manage.py migrate -v0
"$py" manage.py import_data fixtures/demo.jsonl > /dev/null
echo '{"type":"delete","object":"session","id":"30000000-0000-0000-0000-000000000055","tenant_id":"00000000-0000-0000-0000-0000000000b2"}' > "$old/delete.jsonl"
"$py" manage.py import_data "$old/delete.jsonl" > /dev/null
"$py" manage.py create_token --tenant acme --name migrated --scopes all
DJANGO_SUPERUSER_PASSWORD=s3cret-Pass "$py" manage.py createsuperuser --noinput \
    --username operator --email op@example.com > /dev/null
"$py" manage.py shell -c "
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
user = User.objects.get(username='operator')
for label in ('sessions_api.Session', 'scorecards.Scorecard', 'tenants.Rep', 'sessions_api.Scenario'):
    model = apps.get_model(label)
    row = model._base_manager.order_by('pk').first()
    LogEntry.objects.log_action(user_id=user.pk, content_type_id=ContentType.objects.get_for_model(model).pk,
        object_id=str(row.pk), object_repr=str(row), action_flag=CHANGE, change_message='before the move')
"
cd "$root"
pg_dump -h 127.0.0.1 -U postgres --no-owner --no-privileges "$db" | gzip -9n > "tests/migrations/main-$commit.sql.gz"
