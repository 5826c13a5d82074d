"""Query parameters, each declared once (docs/api-guide.md, Formats).

A parameter is a :class:`Param`: its name, its OpenAPI schema and description, and how it is
read. A view declares its parameters as one :class:`Query`, built at import, which both
describes them to the schema (``api_operation(query=...)``, core/schema.py) and parses them
(``LIST_QUERY.parse(request)``), so the two cannot disagree. Parsing reports every bad parameter
in a single 400 ``invalid_parameter`` whose ``details`` maps each name to its messages, in the
order the query declares them. Parameters the query does not declare are ignored.

:class:`QueryParams` is the reader underneath: one method per kind of value, by the contract's
rules, collecting errors until :meth:`QueryParams.validate`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from . import zones
from .cursors import SESSIONS, Position, SessionCursor, decode_opaque
from .errors import InvalidParameter
from .formats import EARLIEST, LATEST, TIMESTAMP_RE, UUID_RE, Edge, parse_timestamp

LATER_THAN_TO = "must not be later than to"


def before(instant: datetime, span: timedelta) -> datetime:
    """``instant - span``, held at the earliest instant where that would be before year 1."""
    try:
        return instant - span
    except OverflowError:
        return EARLIEST


class QueryParams:
    def __init__(self, query: Mapping[str, str]):
        self.query = query
        self.errors: dict[str, list[str]] = {}

    def _raw(self, name: str) -> str | None:
        if name not in self.query:  # most are absent: no QueryDict lookups that raise inside
            return None
        values = self.query.getlist(name) if hasattr(self.query, "getlist") else None
        if values is not None and len(values) > 1:
            self.error(name, "must be given at most once")
            return None
        return self.query.get(name)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def limit(self, default: int = 50, maximum: int = 100) -> int:
        raw = self._raw("limit")
        if raw is None:
            return default
        # Digits without padding or sign: "000100" and "+5" are malformed, not 100 and 5.
        if not re.fullmatch(r"[1-9][0-9]{0,5}", raw) or not 1 <= int(raw) <= maximum:
            self.error("limit", f"must be an integer from 1 to {maximum}")
            return default
        return int(raw)

    def timestamp(self, name: str, *, date_means: Edge = "start") -> datetime | None:
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            return parse_timestamp(raw, date_means=date_means)
        except ValueError as exc:
            self.error(name, str(exc))
            return None

    def uuid(self, name: str) -> uuid.UUID | None:
        raw = self._raw(name)
        if raw is None:
            return None
        if not UUID_RE.match(raw):
            self.error(name, "must be a UUID such as 30000000-0000-0000-0000-000000000001")
            return None
        return uuid.UUID(raw)

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        raw = self._raw(name)
        if raw is None:
            return None
        if raw not in choices:
            self.error(name, f"must be one of {', '.join(choices)}")
            return None
        return raw

    def cursor(self, kind: str) -> Position | None:
        """The opaque ``cursor`` of this kind of list (core/cursors.py): its last row's (instant,
        id). One issued by any other list, or kind of list, is named as bad."""
        raw = self._raw("cursor")
        if raw is None:
            return None
        try:
            return decode_opaque(raw, kind)
        except ValueError as exc:
            self.error("cursor", f"{exc}; pass the next_cursor of the previous page")
            return None

    def session_cursor(self) -> SessionCursor | None:
        """The plain ``cursor`` of /sessions: ``<instant>[~<session id>]``."""
        raw = self._raw("cursor")
        if raw is None:
            return None
        try:
            return SessionCursor.decode(raw)
        except ValueError as exc:
            self.error("cursor", f"{exc}; pass the next_cursor of the previous page")
            return None

    def choice_set(self, name: str, choices: tuple[str, ...]) -> frozenset[str]:
        """A comma-separated subset of ``choices`` (``expand=scorecard,transcript``)."""
        raw = self._raw(name)
        if raw is None:
            return frozenset()
        chosen = [item.strip() for item in raw.split(",")]
        unknown = [item for item in chosen if item not in choices]
        if unknown:
            self.error(name, f"must be a comma-separated list of {', '.join(choices)}")
            return frozenset()
        return frozenset(chosen)

    def raw(self, name: str) -> str | None:
        return self._raw(name)

    def period(self) -> tuple[datetime | None, datetime | None]:
        """``from``/``to``: inclusive bounds; a date alone spans its whole day."""
        start = self.timestamp("from", date_means="start")
        end = self.timestamp("to", date_means="end")
        if start is not None and end is not None and start > end:
            self.error("from", LATER_THAN_TO)
        return start, end

    def validate(self) -> None:
        if self.errors:
            raise InvalidParameter(self.errors)


# -- declarations ------------------------------------------------------------------------------


class Documented(NamedTuple):
    """One query parameter as the schema states it (core/schema.py makes it an OpenAPI one)."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


class Param:
    """One query parameter: how the schema describes it and how a request's value is read.

    ``key`` names its value in what :meth:`Query.parse` returns (the parameter's name unless
    given). A kind that reads several parameters (:class:`Period`) documents each of them.
    """

    def __init__(
        self,
        name: str,
        schema: dict[str, Any],
        description: str,
        *,
        key: str = "",
        required: bool = False,
    ):
        self.name = name
        self.key = key or name
        self.documented: tuple[Documented, ...] = (Documented(name, schema, description, required),)

    @property
    def names(self) -> tuple[str, ...]:
        """The query parameters it reads: exactly those it documents."""
        return tuple(doc.name for doc in self.documented)

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> Any:
        """Its value from ``params``, errors recorded there; ``values`` holds what the query's
        earlier declarations read."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.names)})"


class Limit(Param):
    """``limit``: the page size."""

    def __init__(self, *, default: int = 50, maximum: int = 100):
        super().__init__(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
            f"Page size, 1-{maximum}.",
        )
        self.default, self.maximum = default, maximum

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> int:
        return params.limit(self.default, self.maximum)


class Timestamp(Param):
    """An ISO 8601 instant (``updated_since``, ``since``); a date alone is the start of its day."""

    def __init__(self, name: str, description: str):
        super().__init__(name, {"type": "string", "format": "date-time"}, description)

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> datetime | None:
        return params.timestamp(self.name)


class Period(Param):
    """``from`` and ``to``, inclusive; a date alone spans its whole day, and ``from`` later than
    ``to`` is named as bad. Its value is the pair ``(from, to)``, each None when absent."""

    def __init__(self, *, from_description: str, to_description: str, key: str = "period"):
        date_time = {"type": "string", "format": "date-time"}
        super().__init__("from", date_time, from_description, key=key)
        self.documented += (Documented("to", date_time, to_description),)

    def read(
        self, params: QueryParams, values: Mapping[str, Any]
    ) -> tuple[datetime | None, datetime | None]:
        return params.period()


class TimeZoneName(Param):
    """``tz``: an IANA time zone name (core/zones.py); None when absent."""

    def __init__(self, name: str, description: str):
        super().__init__(name, {"type": "string", "format": "time-zone"}, description)

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> str | None:
        raw = params.raw(self.name)
        if raw is None:
            return None
        try:
            zones.zone(raw)
        except KeyError:
            params.error(self.name, "must be an IANA time zone name such as America/New_York")
            return None
        return raw


class LocalPeriod(Period):
    """``from`` and ``to`` where a date alone is a local day of a time zone known only later
    (the tenant's): each is an instant, a ``date`` (a date alone), or None when absent.
    :func:`local_bounds` makes them instants once the zone is known."""

    @staticmethod
    def _one(params: QueryParams, name: str, edge: Edge) -> datetime | date | None:
        instant = params.timestamp(name, date_means=edge)
        if instant is None:  # absent, or malformed (and named)
            return None
        raw = params.raw(name)
        match = TIMESTAMP_RE.match(raw)
        if match and match["time"] is None and not raw.startswith("0000-"):
            return date.fromisoformat(match["date"])
        return instant

    def read(
        self, params: QueryParams, values: Mapping[str, Any]
    ) -> tuple[datetime | date | None, datetime | date | None]:
        return self._one(params, "from", "start"), self._one(params, "to", "end")


def local_bounds(
    period: tuple[datetime | date | None, datetime | date | None], tz: Any
) -> tuple[datetime | None, datetime | None]:
    """A :class:`LocalPeriod`'s value as instants: a date alone spans its whole day in ``tz``."""
    start, end = period
    if isinstance(start, date) and not isinstance(start, datetime):
        start = EARLIEST if start <= zones.FIRST_DAY else zones.day_start(start, tz)
    if isinstance(end, date) and not isinstance(end, datetime):
        end = (
            LATEST
            if end >= zones.LAST_DAY
            else zones.day_start(end + timedelta(days=1), tz) - timedelta(microseconds=1)
        )
    return start, end


class Uuid(Param):
    """A hyphenated UUID (``user_id``)."""

    def __init__(self, name: str, description: str):
        super().__init__(name, {"type": "string", "format": "uuid"}, description)

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> uuid.UUID | None:
        return params.uuid(self.name)


class Choice(Param):
    """One of ``choices``, or None when absent."""

    def __init__(self, name: str, choices: tuple[str, ...], description: str):
        super().__init__(name, {"type": "string", "enum": list(choices)}, description)
        self.choices = tuple(choices)

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> str | None:
        return params.choice(self.name, self.choices)


class ChoiceSet(Param):
    """A comma-separated subset of ``choices`` (``expand=scorecard,transcript``); empty when
    absent."""

    def __init__(self, name: str, choices: tuple[str, ...], description: str):
        one = "(" + "|".join(choices) + ")"
        super().__init__(name, {"type": "string", "pattern": f"^{one}(,{one})*$"}, description)
        self.choices = tuple(choices)

    def read(self, params: QueryParams, values: Mapping[str, Any]) -> frozenset[str]:
        return params.choice_set(self.name, self.choices)


class Cursor(Param):
    """``cursor``: the previous page's ``next_cursor``, of this list's kind (core/cursors.py).

    ``kind`` is the list's own: an opaque cursor's kind, or ``cursors.SESSIONS`` for the plain
    /sessions cursor (a :class:`~core.cursors.SessionCursor`, not a position). With
    ``changes_kind``, a query that has ``updated_since`` is another list, the changes oldest
    first, with its own kind of cursor: that one is read when ``updated_since`` was given.
    """

    OPAQUE = "The previous page's `next_cursor` (opaque)."

    def __init__(
        self,
        format: str,
        kind: str,
        *,
        changes_kind: str | None = None,
        description: str = OPAQUE,
    ):
        super().__init__("cursor", {"type": "string", "format": format}, description)
        self.kind, self.changes_kind = kind, changes_kind

    def read(
        self, params: QueryParams, values: Mapping[str, Any]
    ) -> Position | SessionCursor | None:
        kind = self.kind
        if self.changes_kind is not None and values["updated_since"] is not None:
            kind = self.changes_kind
        return params.session_cursor() if kind == SESSIONS else params.cursor(kind)


class Values(dict[str, Any]):
    """What :meth:`Query.parse` read, by each declaration's ``key``; also as attributes."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class Query:
    """A view's query parameters, declared once: the schema's (:attr:`documented`) and the
    parser's (:meth:`parse`). Declarations are read in order, so one may depend on an earlier
    one (a cursor on ``updated_since``); ``details`` of a 400 name bad parameters in that order.
    """

    def __init__(self, *params: Param):
        names = [name for param in params for name in param.names]
        keys = [param.key for param in params]
        for label, items in (("parameter", names), ("key", keys)):
            if duplicated := sorted({item for item in items if items.count(item) > 1}):
                raise ValueError(f"{label} declared twice: {', '.join(duplicated)}")
        for key in keys:
            if hasattr(Values, key):  # q.items would be the dict's method, not the value
                raise ValueError(f"key {key!r} is a dict attribute; give the Param another key")
        for i, param in enumerate(params):
            changes = isinstance(param, Cursor) and param.changes_kind is not None
            if changes and "updated_since" not in keys[:i]:
                raise ValueError("a cursor with changes_kind must follow an updated_since")
        self.params = params
        self.names = frozenset(names)
        self.documented: tuple[Documented, ...] = tuple(
            doc for param in params for doc in param.documented
        )

    def parse(self, request: Any) -> Values:
        """Every declared parameter of ``request`` (a DRF request, or its ``query_params``),
        read; :class:`~core.errors.InvalidParameter` naming each bad one."""
        params = QueryParams(getattr(request, "query_params", request))
        values = Values()
        for param in self.params:
            values[param.key] = param.read(params, values)
        params.validate()
        return values

    def __repr__(self) -> str:
        return f"Query({', '.join(map(repr, self.params))})"


# The declarations several lists share.
LIMIT = Limit()
PERIOD = Period(
    from_description="Inclusive lower bound on started_at. ISO 8601; no offset means UTC; a date "
    "alone (2026-05-01) is the start of that day.",
    to_description="Inclusive upper bound on started_at; a date alone is the end of that day. "
    "`from` later than `to` is a 400.",
)
USER_ID = Uuid("user_id", "Only this rep's sessions.")
SCENARIO_ID = Uuid("scenario_id", "Only this scenario's sessions.")
UPDATED_SINCE = Timestamp(
    "updated_since",
    "Only records changed at or after this instant (ISO 8601, read like `from`), oldest change "
    "first by (`updated_at`, `id`); `cursor` is then this list's opaque `next_cursor`. Page to "
    "the end, keep the greatest `updated_at` received and pass it next time: no change is "
    "lost (docs/api-guide.md, Keep a copy in sync).",
)
# A list's answer: one page in the envelope, or every row as CSV (core/export.py). Only the lists
# that answer CSV declare it; an unknown value is a 400 like any bad parameter.
FORMAT = Choice(
    "format",
    ("json", "csv"),
    "`json` (the default): one page in the envelope. `csv`: every record that matches the "
    "filters, in the list's order, as one streamed `text/csv` attachment (`limit` and `cursor` "
    "do not apply); `Accept: text/csv` asks for it too. Errors are JSON either way.",
)
