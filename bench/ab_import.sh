#!/bin/bash
# Import time of this tree against an older commit, side by side on this machine: the same
# file into a fresh PostgreSQL database, old and new alternating.
#   bench/ab_import.sh <commit> [rounds] [file]   (default 5 rounds, the 100k bench file)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
commit=$1; rounds=${2:-5}; data=${3:-$here/bench/data/s100000-t20-seed1.jsonl}
py=$here/.venv/bin/python
old=/tmp/ab-$commit
[ -d "$old" ] || git -C "$here" worktree add -q "$old" "$commit"
export DJANGO_SETTINGS_MODULE=bench.settings REDIS_URL=redis://127.0.0.1:6379/0 LOG_LEVEL=WARNING
export DJANGO_SECURE_COOKIES=0 DJANGO_SECRET_KEY=$("$py" -c 'import secrets; print(secrets.token_urlsafe(50))')
for round in $(seq "$rounds"); do
  for which in old new; do
    dir=$here; [ $which = old ] && dir=$old
    db=ab_$which
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" 2>/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" PYTHONPATH=$dir
    (cd "$dir" && "$py" manage.py migrate -v0 --noinput)
    start=$(date +%s.%N)
    (cd "$dir" && "$py" manage.py import_data "$data" > /dev/null)
    echo "round $round $which: $(echo "$(date +%s.%N) - $start" | bc) s"
  done
done
