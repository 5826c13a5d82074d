"""GET /api/v1/deletions: what was deleted, for copies to delete too."""

from datetime import timedelta
from functools import partial

from django.conf import settings
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core import export
from core.cursors import DELETIONS, decode_opaque
from core.errors import ResyncRequired
from core.examples import example
from core.params import FORMAT, LIMIT, Choice, Cursor, Query, Timestamp
from core.schema import api_operation, envelope_of
from core.viewsets import page, wants_csv
from tenants.viewsets import TenantScopedViewSet

from . import selectors
from .models import DeletionKind
from .shapes import DELETION, deletion_page_example

# The scope that lets a token read each kind of record, hence its deletions.
SCOPE_OF_KIND = {
    DeletionKind.SESSION: "sessions:read",
    DeletionKind.SCORECARD: "scorecards:read",
    DeletionKind.SCENARIO: "scenarios:read",
    DeletionKind.USER: "users:read",
}

DELETION_QUERY = Query(
    LIMIT,
    Timestamp(
        "since",
        "Only deletions at or after this instant (ISO 8601, inclusive), with the guarantee of "
        "`updated_since`. Older than the retention (`DELETIONS_RETENTION_DAYS`, 90 by default): "
        "410 `resync_required`. Absent: every deletion kept.",
    ),
    Choice(
        "object",
        tuple(DeletionKind.values),
        "Only this kind; needs that kind's read scope (else 403). Without it, the kinds this "
        "token may read.",
    ),
    Cursor("deletion-cursor", DELETIONS),  # another list's: a 400 here, never a 410
    FORMAT,
)
# As CSV (core/export.py), with the columns it pages on.
DELETION_CSV = export.CSVShape(DELETION, keep=("deleted_at", "id"))


class DeletionViewSet(TenantScopedViewSet):
    """``GET /api/v1/deletions``: what was deleted, for copies to delete too."""

    required_scope = tuple(SCOPE_OF_KIND.values())  # any of them; each kind needs its own

    @api_operation(
        operation_id="list_deletions",
        examples=example(deletion_page_example),
        summary="List deletions, oldest first",
        response=envelope_of("DeletionPage", DELETION, paginated=True),
        query=DELETION_QUERY,
        errors=[400, 403, 410],
    )
    def list(self, request: Request) -> Response:
        q = DELETION_QUERY.parse(request)
        since, kind, after = q.since, q.object, q.cursor
        if kind is not None:
            self.require_scope(SCOPE_OF_KIND[kind])
            kinds = [kind]
        else:
            kinds = [k for k, scope in SCOPE_OF_KIND.items() if self.token.has_scope(scope)]
        kept_since = timezone.now() - timedelta(days=settings.DELETIONS_RETENTION_DAYS)
        start = max(filter(None, [since, after[0] if after else None]), default=None)
        if start is not None and start < kept_since:
            raise ResyncRequired(
                f"Deletions are kept for {settings.DELETIONS_RETENTION_DAYS} days; this sync "
                "may have missed older ones. Copy everything again, then sync from then."
            )
        read = dict(tenant=self.tenant, kinds=kinds, since=since or kept_since)
        if wants_csv(request, q.format):
            fetch = export.paged(
                lambda after, limit: selectors.deletion_list(
                    **read, after=after, limit=limit, shape=DELETION_CSV
                ),
                partial(decode_opaque, kind=DELETIONS),
            )
            return export.csv_response(
                request, filename="deletions", table=DELETION_CSV, fetch=fetch
            )
        found = selectors.deletion_list(**read, after=after, limit=q.limit)
        return page(found, DELETION)
