"""Line-level validation of the import format (``docs/import-format.md``).

Each record type is declared once, as an :class:`core.records.Record`; ``CLEANERS[type]`` takes
one decoded JSON object and returns the row it describes as plain model-field values, or raises
:class:`Invalid` listing every problem on that line. Enumerations come from the models'
``TextChoices``, so a new status is a change in one place. Nothing here touches the database:
whether a referenced id exists is the importer's job, in batches.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.formats import UUID_RE
from core.records import (
    MAX_INT32,
    Field,
    Invalid,
    Record,
    choice,
    integer,
    items,
    text,
    timestamp,
    uuid_kind,
)
from roleplay.models import Rep, Scenario, Scorecard, Session
from roleplay.scorecard_rules import CALLOUTS, CATEGORIES, scorecard_item_problems
from roleplay.transcripts import TURN
from sync.models import DeletionKind
from tenants.models import DEFAULT_TIME_ZONE, TIME_ZONE_EXAMPLE, is_time_zone

__all__ = ["CLEANERS", "UUID_RE", "Invalid", "scorecard_item_problems"]

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")


def _is_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _id(name: str) -> Field:
    return Field(name, uuid_kind())


TENANT = Record(
    "tenant",
    [
        _id("id"),
        Field(
            "slug",
            text(
                64,
                also=[
                    (
                        "slug_re.match(v)",
                        "may contain only letters, digits, hyphens and underscores",
                    )
                ],
                names={"slug_re": SLUG_RE},
            ),
        ),
        Field("name", text()),
        # Absent or null is UTC, written like any other field: a re-import without it sets the
        # tenant back to UTC (as a user line without email clears the email).
        Field(
            "time_zone",
            text(
                64,
                also=[
                    (
                        "is_time_zone(v)",
                        f"must be an IANA time zone name such as {TIME_ZONE_EXAMPLE} or UTC",
                    )
                ],
                names={"is_time_zone": is_time_zone},
            ),
            required=False,
            default=DEFAULT_TIME_ZONE,
        ),
    ],
)

USER = Record(
    "user",
    [
        _id("id"),
        _id("tenant_id"),
        Field("full_name", text()),
        Field(
            "email",
            text(
                254,
                blank=True,
                also=[("not v or is_email(v)", "must be a valid email address")],
                names={"is_email": _is_email},
            ),
            required=False,
            default="",
        ),
        Field("role", choice(Rep.Role)),
    ],
)

SCENARIO = Record(
    "scenario",
    [
        _id("id"),
        _id("tenant_id"),
        Field("name", text()),
        Field("call_type", text(64)),
        Field("status", choice(Scenario.Status)),
        Field("created_at", timestamp(), required=False),
    ],
)


def _session_spans(row: dict[str, Any], problems: list[str]) -> None:
    started, ended = row["started_at"], row["ended_at"]
    if started is not None and ended is not None and ended < started:
        problems.append("ended_at: must not be before started_at")
    # A session's creation is its start unless upstream says otherwise: stable on re-import.
    if row["created_at"] is None:
        row["created_at"] = started


SESSION = Record(
    "session",
    [
        _id("id"),
        _id("tenant_id"),
        _id("user_id"),
        _id("scenario_id"),
        Field("status", choice(Session.Status)),
        Field("started_at", timestamp()),
        Field("ended_at", timestamp(), required=False),
        Field("duration_seconds", integer(0, MAX_INT32), required=False),
        Field("created_at", timestamp(), required=False),
        Field("transcript", items(TURN), required=False, default=[]),
    ],
    finish=_session_spans,
)

SCORECARD = Record(
    "scorecard",
    [
        _id("id"),
        _id("tenant_id"),
        _id("session_id"),
        Field("overall_score", integer(0, 100)),
        Field("verdict", choice(Scorecard.Verdict)),
        Field("headline", text(1000)),
        CATEGORIES,
        CALLOUTS,
        Field("created_at", timestamp(), required=False),
    ],
)

DELETE = Record(
    "delete",
    [Field("object", choice(DeletionKind)), _id("id"), _id("tenant_id")],
)

RECORDS = {record.name: record for record in (TENANT, USER, SCENARIO, SESSION, SCORECARD, DELETE)}
CLEANERS = {name: record.clean for name, record in RECORDS.items()}
clean_tenant, clean_user, clean_scenario, clean_session, clean_scorecard, clean_delete = (
    CLEANERS.values()
)
