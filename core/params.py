"""Query-parameter parsing by the contract's rules (docs/api-guide.md, Formats).

A view builds a :class:`QueryParams` over ``request.query_params``, reads each parameter through
one of its methods, and calls :meth:`QueryParams.validate`: every bad parameter is reported in a
single 400 ``invalid_parameter`` whose ``details`` maps each name to its messages. Parameters
the contract does not name are ignored.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from .cursors import Position, decode_opaque
from .errors import InvalidParameter
from .formats import EARLIEST, UUID_RE, Edge, parse_timestamp


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
            self.error("from", "must not be later than to")
        return start, end

    def validate(self) -> None:
        if self.errors:
            raise InvalidParameter(self.errors)
