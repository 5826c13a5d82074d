"""EXPLAIN ANALYZE of the SQL each endpoint really runs, for bench/RESULTS.md.

Run by bench/run.py inside the benchmark database: ``python bench/explain.py TENANT_ID``.
The queries are captured from the selectors themselves, so the plans are those of production.
"""

import os
import sys
from datetime import timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from analytics.selectors import summary  # noqa: E402
from roleplay import selectors  # noqa: E402
from roleplay.models import Session  # noqa: E402
from roleplay.selectors import scorecard_get, user_list  # noqa: E402
from tenants.models import Tenant  # noqa: E402


def main() -> None:
    tenant = Tenant.objects.get(id=sys.argv[1])
    sessions = Session.objects.for_tenant(tenant)
    newest = sessions.order_by("-started_at").values_list("started_at", flat=True).first()
    card_session = (
        sessions.filter(scorecard__isnull=False).values_list("id", "scorecard__id").first()
    )
    _rows, cursor = selectors.session_list(
        tenant=tenant, filters=selectors.SessionFilters(), cursor=None, limit=100
    )
    calls = {
        "GET /sessions?limit=100": lambda: selectors.session_list(
            tenant=tenant, filters=selectors.SessionFilters(), cursor=None, limit=100
        ),
        "GET /sessions?limit=100&cursor=… (next page)": lambda: selectors.session_list(
            tenant=tenant,
            filters=selectors.SessionFilters(),
            cursor=selectors.SessionCursor.decode(cursor),
            limit=100,
        ),
        "GET /sessions/{id}": lambda: selectors.session_get(
            tenant=tenant, session_id=card_session[0]
        ),
        "GET /scorecards/{id}": lambda: scorecard_get(tenant=tenant, scorecard_id=card_session[1]),
        "GET /users?limit=100": lambda: user_list(tenant=tenant, role=None, after=None, limit=100),
        "GET /analytics/summary (one year)": lambda: summary(
            tenant=tenant, started_from=newest - timedelta(days=365), started_to=newest
        ),
    }
    for title, call in calls.items():
        with CaptureQueriesContext(connection) as captured:
            call()
        for query in captured.captured_queries:
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
                plan = "\n".join(row[0] for row in cur.fetchall())
            print(f"#### {title}\n\n```\n{plan}\n```\n")


if __name__ == "__main__":
    main()
