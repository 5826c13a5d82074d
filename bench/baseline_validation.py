"""The baseline of ``bench/parse.py``: a frozen copy of ``importing/validation.py`` as it was
before records were declared once (``core.records``), hand-written rules beside a fast path.
Not imported by the app.

Line-level validation of the import format (``shared/import-format.md``).

Each ``clean_<type>`` takes one decoded JSON object and returns the row it describes as plain
model-field values, or raises :class:`Invalid` listing every problem on that line. Nothing here
touches the database: whether a referenced id exists is the importer's job, in batches.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from core.formats import UUID_RE

SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")

ROLES = ("rep", "manager", "admin")
SCENARIO_STATUSES = ("active", "archived")
SESSION_STATUSES = ("in_progress", "completed", "scored", "abandoned", "failed")
VERDICTS = ("crushed_it", "solid", "needs_work", "missed_the_mark")
TURN_ROLES = ("agent", "user")
CALLOUT_KINDS = ("strength", "improvement")

MAX_NAME = 200
MAX_TEXT = 100_000
MAX_INT32 = 2**31 - 1
MAX_ITEMS = 10_000


# Every session names its tenant, rep and scenario: the same few ids, parsed once each.
_UUIDS: dict[str, uuid.UUID] = {}
MAX_REMEMBERED_UUIDS = 50_000


class Invalid(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class _Fields:
    """Reads fields off one record, collecting every problem instead of stopping at the first."""

    def __init__(self, record: dict[str, Any], prefix: str = ""):
        self.record = record
        self.prefix = prefix
        self.problems: list[str] = []

    def _fail(self, name: str, message: str) -> None:
        self.problems.append(f"{self.prefix}{name}: {message}")

    def _get(self, name: str, required: bool) -> tuple[bool, Any]:
        if name not in self.record or self.record[name] is None:
            if required:
                self._fail(name, "is required")
            return False, None
        return True, self.record[name]

    def uuid(self, name: str, required: bool = True) -> uuid.UUID | None:
        present, value = self._get(name, required)
        if not present:
            return None
        if type(value) is str and (known := _UUIDS.get(value)) is not None:
            return known
        if not isinstance(value, str) or not UUID_RE.match(value):
            self._fail(name, "must be a UUID such as 30000000-0000-0000-0000-000000000001")
            return None
        if len(_UUIDS) >= MAX_REMEMBERED_UUIDS:
            _UUIDS.clear()
        parsed = _UUIDS[value] = uuid.UUID(value)
        return parsed

    def text(
        self, name: str, required: bool = True, max_length: int = MAX_NAME, blank: bool = False
    ) -> str | None:
        present, value = self._get(name, required)
        if not present:
            return None
        if not isinstance(value, str):
            self._fail(name, "must be a string")
            return None
        if not blank and not value.strip():
            self._fail(name, "must not be blank")
            return None
        if len(value) > max_length:
            self._fail(name, f"must be at most {max_length} characters")
            return None
        if "\x00" in value:
            self._fail(name, "must not contain NUL characters")
            return None
        return value

    def choice(self, name: str, choices: tuple[str, ...], required: bool = True) -> str | None:
        present, value = self._get(name, required)
        if not present:
            return None
        if value not in choices:
            self._fail(name, f"must be one of {', '.join(choices)}")
            return None
        return value

    def integer(self, name: str, low: int, high: int, required: bool = True) -> int | None:
        present, value = self._get(name, required)
        if not present:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            self._fail(name, "must be an integer")
            return None
        if not low <= value <= high:
            self._fail(name, f"must be between {low} and {high}")
            return None
        return value

    def number(self, name: str, required: bool = True) -> float | int | None:
        present, value = self._get(name, required)
        if not present:
            return None
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value < 0
            or value > MAX_INT32
        ):
            self._fail(name, "must be a number of seconds, zero or more")
            return None
        return value

    def timestamp(self, name: str, required: bool = True) -> datetime | None:
        present, value = self._get(name, required)
        if not present:
            return None
        if not isinstance(value, str) or len(value) > 64:
            self._fail(name, "must be an RFC 3339 timestamp such as 2026-05-06T17:00:00Z")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self._fail(name, "must be an RFC 3339 timestamp such as 2026-05-06T17:00:00Z")
            return None
        if parsed.tzinfo is None:
            self._fail(name, "must carry a UTC offset or Z, e.g. 2026-05-06T17:00:00Z")
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:30:00+01:00 is in year 0 in UTC
            self._fail(name, "must fall between years 0001 and 9999 in UTC")
            return None

    def items(self, name: str) -> list[Any]:
        present, value = self._get(name, False)
        if not present:
            return []
        if not isinstance(value, list):
            self._fail(name, "must be a list")
            return []
        if len(value) > MAX_ITEMS:
            self._fail(name, f"must have at most {MAX_ITEMS} items")
            return []
        return value

    def nested(self, name: str, index: int, item: Any) -> _Fields | None:
        if not isinstance(item, dict):
            self._fail(f"{name}[{index}]", "must be an object")
            return None
        return _Fields(item, prefix=f"{self.prefix}{name}[{index}].")

    def absorb(self, child: _Fields) -> None:
        self.problems.extend(child.problems)

    def done(self) -> None:
        if self.problems:
            raise Invalid(self.problems)


def clean_tenant(record: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(record)
    row = {"id": f.uuid("id"), "slug": f.text("slug", max_length=64), "name": f.text("name")}
    if row["slug"] is not None and not SLUG_RE.match(row["slug"]):
        f._fail("slug", "may contain only letters, digits, hyphens and underscores")
    f.done()
    return row


def clean_user(record: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(record)
    row = {
        "id": f.uuid("id"),
        "tenant_id": f.uuid("tenant_id"),
        "full_name": f.text("full_name"),
        "email": f.text("email", required=False, max_length=254, blank=True) or "",
        "role": f.choice("role", ROLES),
    }
    if row["email"]:
        try:
            validate_email(row["email"])
        except ValidationError:
            f._fail("email", "must be a valid email address")
    f.done()
    return row


def clean_scenario(record: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(record)
    row = {
        "id": f.uuid("id"),
        "tenant_id": f.uuid("tenant_id"),
        "name": f.text("name"),
        "call_type": f.text("call_type", max_length=64),
        "status": f.choice("status", SCENARIO_STATUSES),
        "created_at": f.timestamp("created_at", required=False),
    }
    f.done()
    return row


def _clean_turn(parent: _Fields, index: int, item: Any) -> dict[str, Any] | None:
    f = parent.nested("transcript", index, item)
    if f is None:
        return None
    turn = {
        "role": f.choice("role", TURN_ROLES),
        "message": f.text("message", max_length=MAX_TEXT, blank=True),
        "time": f.number("time"),
    }
    parent.absorb(f)
    return turn


def _plain_turns(turns: list[Any]) -> bool:
    """True when every turn is exactly {role, message, time} and valid: the common case in one
    tight loop, the transcript then stored as it came. Anything else goes to the detailed rules,
    for their messages (and the rebuilt three fields). A hypothesis test holds the two together,
    so that speed never skips a rule.
    """
    for turn in turns:
        if type(turn) is not dict or len(turn) != 3:
            return False
        message, time = turn.get("message"), turn.get("time")
        if not (
            turn.get("role") in TURN_ROLES
            and type(message) is str
            and len(message) <= MAX_TEXT
            and "\x00" not in message
            and (type(time) is int or (type(time) is float and math.isfinite(time)))
            and 0 <= time <= MAX_INT32
        ):
            return False
    return True


def _transcript(f: _Fields) -> list[dict[str, Any]]:
    turns = f.items("transcript")
    if _plain_turns(turns):
        return turns
    return [_clean_turn(f, i, item) for i, item in enumerate(turns)]


def clean_session(record: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(record)
    row = {
        "id": f.uuid("id"),
        "tenant_id": f.uuid("tenant_id"),
        "user_id": f.uuid("user_id"),
        "scenario_id": f.uuid("scenario_id"),
        "status": f.choice("status", SESSION_STATUSES),
        "started_at": f.timestamp("started_at"),
        "ended_at": f.timestamp("ended_at", required=False),
        "duration_seconds": f.integer("duration_seconds", 0, MAX_INT32, required=False),
        "created_at": f.timestamp("created_at", required=False),
        "transcript": _transcript(f),
    }
    started, ended = row["started_at"], row["ended_at"]
    if started is not None and ended is not None and ended < started:
        f._fail("ended_at", "must not be before started_at")
    f.done()
    # A session's creation is its start unless upstream says otherwise: stable on re-import.
    if row["created_at"] is None:
        row["created_at"] = started
    return row


def _clean_category(parent: _Fields, index: int, item: Any) -> dict[str, Any] | None:
    f = parent.nested("categories", index, item)
    if f is None:
        return None
    category = {
        "key": f.text("key", max_length=64),
        "label": f.text("label"),
        "score": f.integer("score", 0, 100),
        "feedback": f.text("feedback", required=False, max_length=MAX_TEXT, blank=True) or "",
    }
    parent.absorb(f)
    return category


def _clean_callout(parent: _Fields, index: int, item: Any) -> dict[str, Any] | None:
    f = parent.nested("callouts", index, item)
    if f is None:
        return None
    callout = {
        "kind": f.choice("kind", CALLOUT_KINDS),
        "text": f.text("text", max_length=MAX_TEXT),
        "time": f.number("time", required=False),
    }
    parent.absorb(f)
    return callout


def _plain_text(value: Any, max_length: int, blank: bool = False) -> bool:
    return (
        type(value) is str
        and len(value) <= max_length
        and (blank or value.strip() != "")
        and "\x00" not in value
    )


def _plain_categories(items: list[Any]) -> bool:
    """Like _plain_turns, for scorecard categories: exactly key, label, score, feedback."""
    for item in items:
        if type(item) is not dict or len(item) != 4:
            return False
        score = item.get("score")
        if not (
            _plain_text(item.get("key"), 64)
            and _plain_text(item.get("label"), MAX_NAME)
            and type(score) is int
            and 0 <= score <= 100
            and _plain_text(item.get("feedback"), MAX_TEXT, blank=True)
        ):
            return False
    return True


def _plain_callouts(items: list[Any]) -> bool:
    """Like _plain_turns, for scorecard callouts: exactly kind, text, time (a number or null)."""
    for item in items:
        if type(item) is not dict or len(item) != 3:
            return False
        time = item.get("time")
        if not (
            item.get("kind") in CALLOUT_KINDS
            and _plain_text(item.get("text"), MAX_TEXT)
            and (
                time is None
                or (
                    (type(time) is int or (type(time) is float and math.isfinite(time)))
                    and 0 <= time <= MAX_INT32
                )
            )
        ):
            return False
    return True


def _items(f: _Fields, name: str, plain, clean) -> list[Any]:
    items = f.items(name)
    if plain(items):
        return items
    return [clean(f, i, item) for i, item in enumerate(items)]


def clean_scorecard(record: dict[str, Any]) -> dict[str, Any]:
    f = _Fields(record)
    row = {
        "id": f.uuid("id"),
        "tenant_id": f.uuid("tenant_id"),
        "session_id": f.uuid("session_id"),
        "overall_score": f.integer("overall_score", 0, 100),
        "verdict": f.choice("verdict", VERDICTS),
        "headline": f.text("headline", max_length=1000),
        "categories": _items(f, "categories", _plain_categories, _clean_category),
        "callouts": _items(f, "callouts", _plain_callouts, _clean_callout),
        "created_at": f.timestamp("created_at", required=False),
    }
    f.done()
    return row


def scorecard_item_problems(record: dict[str, Any]) -> dict[str, list[str]]:
    """The import's rules for a scorecard's ``categories`` and ``callouts``, for other writers
    (admin): each field's problems, by field."""
    f = _Fields(record)
    _items(f, "categories", _plain_categories, _clean_category)
    _items(f, "callouts", _plain_callouts, _clean_callout)
    problems: dict[str, list[str]] = {}
    for problem in f.problems:
        field = re.split(r"[\[:.]", problem, maxsplit=1)[0]
        problems.setdefault(field, []).append(problem)
    return problems


CLEANERS = {
    "tenant": clean_tenant,
    "user": clean_user,
    "scenario": clean_scenario,
    "session": clean_session,
    "scorecard": clean_scorecard,
}
