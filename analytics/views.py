import uuid
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from core import export, zones
from core.cursors import NOT_A_CURSOR, load_opaque
from core.errors import InvalidParameter
from core.examples import example
from core.params import (
    FORMAT,
    LATER_THAN_TO,
    SCENARIO_ID,
    USER_ID,
    Cursor,
    Limit,
    LocalPeriod,
    Param,
    Period,
    Query,
    QueryParams,
    TimeZoneName,
    before,
    local_bounds,
)
from core.schema import api_operation, envelope_of
from core.viewsets import envelope, wants_csv
from core.zones import UNITS
from tenants.viewsets import TenantScopedViewSet

from . import selectors
from .breakdown import CURSOR_KIND, DIMENSIONS, IDS, By, breakdown, encode_cursor
from .breakdown import Period as BreakdownPeriod
from .shapes import (
    GROUP,
    SUMMARY,
    breakdown_example,
    group_objects,
    render_groups,
    summary_example,
)

SUMMARY_ONE = envelope_of("SummaryEnvelope", SUMMARY)

DEFAULT_PERIOD = timedelta(days=30)

SUMMARY_QUERY = Query(
    Period(
        from_description="Inclusive; defaults to 30 days before `to`. A date alone is the start "
        "of that day (UTC).",
        to_description="Inclusive; defaults to now. A date alone is the end of that day (UTC).",
    ),
    USER_ID,
    SCENARIO_ID,
)


def defaulted(started_from: datetime | None, started_to: datetime | None):
    """The answers' period: ``to`` defaults to now, ``from`` to 30 days before ``to``; out of
    order (a defaulted bound, or a local date that moved past the other) is a 400."""
    if started_to is None:
        started_to = timezone.now()
    if started_from is None:
        started_from = before(started_to, DEFAULT_PERIOD)
    if started_from > started_to:
        raise InvalidParameter({"from": [LATER_THAN_TO]})
    return started_from, started_to


class SummaryViewSet(TenantScopedViewSet):
    required_scope = "analytics:read"

    @api_operation(
        operation_id="get_analytics_summary",
        summary="Sessions, scores and active reps over a period",
        response=SUMMARY_ONE,
        query=SUMMARY_QUERY,
        errors=[400, 403],
        examples=example(summary_example),
    )
    def list(self, request: Request) -> Response:
        q = SUMMARY_QUERY.parse(request)
        started_from, started_to = defaulted(*q.period)

        result = selectors.summary(
            tenant=self.tenant,
            started_from=started_from,
            started_to=started_to,
            user_id=q.user_id,
            scenario_id=q.scenario_id,
        )
        return envelope(
            SUMMARY.from_values({"from": started_from, "to": started_to, **asdict(result)})
        )


# -- GET /analytics/breakdown ------------------------------------------------------------------

BY_HELP = (
    "One or two of user, scenario, day, week, month, comma-separated, at most one of them a "
    "time: by=user, by=week, by=user,week, by=scenario,month, by=user,scenario."
)
BY_RULE = BY_HELP[0].lower() + BY_HELP[1:]


class ByParam(Param):
    """``by``: required; the group's dimensions in order (analytics/breakdown.py)."""

    def __init__(self) -> None:
        ids, time = "(user|scenario)", "(" + "|".join(UNITS) + ")"
        # Exactly the valid values: one or two, at most one time, none twice.
        valid = [ids, time, f"{ids},{time}", f"{time},{ids}", "user,scenario", "scenario,user"]
        super().__init__(
            "by",
            {"type": "string", "pattern": f"^({'|'.join(valid)})$", "example": "user,week"},
            BY_HELP,
            required=True,
        )

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> By | None:
        raw = params.raw("by")
        if raw is None:
            if "by" not in params.errors:
                params.error("by", "is required: " + BY_RULE)
            return None
        names = tuple(raw.split(","))
        times = [name for name in names if name in UNITS]
        if (
            not 1 <= len(names) <= 2
            or any(name not in DIMENSIONS for name in names)
            or len(set(names)) != len(names)
            or len(times) > 1
        ):
            params.error("by", "must be " + BY_RULE)
            return None
        return By(names)


class BreakdownCursor(Param):
    """``cursor``: opaque, the URL-safe base64 of ``["breakdown", by, [key...]]``: the last
    group's key (ids and dates only), valid for the same ``by``."""

    def __init__(self) -> None:
        super().__init__("cursor", {"type": "string", "format": "breakdown-cursor"}, Cursor.OPAQUE)

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> tuple | None:
        raw = params.raw("cursor")
        if raw is None:
            return None
        try:
            kind, named, key = load_opaque(raw)  # None, or not three: a TypeError, a ValueError
            names = named.split(",") if isinstance(named, str) else None
            if kind != CURSOR_KIND or not isinstance(key, list) or not names:
                raise ValueError
            if len(key) != len(names) or not all(isinstance(k, str) for k in key):
                raise ValueError
            parsed = tuple(
                uuid.UUID(k) if name in IDS else date.fromisoformat(k)
                for name, k in zip(names, key, strict=True)
            )
        except (ValueError, TypeError):
            params.error("cursor", f"{NOT_A_CURSOR}; pass the next_cursor of the previous page")
            return None
        by: By | None = values.get("by")
        if by is not None and tuple(names) != by.names:
            params.error("cursor", f"was issued for by={named}; pass the same by")
            return None
        return parsed


BREAKDOWN_QUERY = Query(
    ByParam(),
    TimeZoneName(
        "tz",
        "An IANA time zone for the time buckets and for a date alone in `from`/`to`; default "
        "the tenant's (`GET /token`: `tenant.time_zone`).",
    ),
    LocalPeriod(
        from_description="Inclusive; defaults to 30 days before `to`. A date alone is the start "
        "of that day in `tz`.",
        to_description="Inclusive; defaults to now. A date alone is the end of that day in `tz`.",
    ),
    USER_ID,
    SCENARIO_ID,
    Limit(default=1000, maximum=1000),
    BreakdownCursor(),
    FORMAT,
)
BREAKDOWN_CSV = export.ObjectsCSV(GROUP)
BREAKDOWN_PAGE = envelope_of("BreakdownPage", GROUP, paginated=True)


class BreakdownViewSet(TenantScopedViewSet):
    required_scope = "analytics:read"

    @api_operation(
        operation_id="get_analytics_breakdown",
        summary="The summary's figures per rep, scenario, day, week or month, in a time zone",
        response=BREAKDOWN_PAGE,
        query=BREAKDOWN_QUERY,
        errors=[400, 403],
        examples=example(breakdown_example),
    )
    def list(self, request: Request) -> Response:
        q = BREAKDOWN_QUERY.parse(request)
        tz_name = q.tz or self.tenant.time_zone
        tz = zones.zone(tz_name)
        started_from, started_to = defaulted(*local_bounds(q.period, tz))
        read = dict(
            tenant=self.tenant,
            by=q.by,
            period=BreakdownPeriod(started_from, started_to, tz, tz_name),
            user_id=q.user_id,
            scenario_id=q.scenario_id,
        )
        if wants_csv(
            request, q.format
        ):  # every group, from the first: limit and cursor do not apply

            def fetch(after, limit):
                groups, next_key = breakdown(
                    **read, after=after, limit=min(limit, 1000), rendered=True
                )
                return group_objects(groups), next_key

            return export.csv_response(
                request,
                filename="breakdown",
                table=BREAKDOWN_CSV,
                fetch=fetch,
                include=frozenset(q.by.names),
                keyset=False,
            )
        groups, next_key = breakdown(**read, after=q.cursor, limit=q.limit, rendered=True)
        return envelope(
            render_groups(groups),
            next_cursor=encode_cursor(q.by, next_key),
        )
