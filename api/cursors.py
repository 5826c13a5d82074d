"""Cursors of the list endpoints.

Sessions (docs/api-guide.md): ``next_cursor`` is the page's last ``started_at`` in RFC 3339. Only
when the next session shares that instant does the server append ``~<id>`` of the page's last
session, so that a page boundary inside a run of equal timestamps loses and repeats nothing.
A plain ISO 8601 timestamp is accepted too and means "strictly before this instant".

Scenarios and users: opaque (URL-safe base64 of the last row's sort key); clients pass it back.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson

from .formats import UUID_RE, parse_timestamp, rfc3339

TIE_BREAK_SEPARATOR = "~"


@dataclass(frozen=True)
class SessionCursor:
    """Sessions strictly after this position in (started_at DESC, id DESC) order."""

    started_at: datetime
    id: uuid.UUID | None = None  # None: every session of that instant is already behind

    def encode(self) -> str:
        text = rfc3339(self.started_at)
        if self.id is not None:
            text += f"{TIE_BREAK_SEPARATOR}{self.id}"
        return text

    @classmethod
    def decode(cls, raw: str) -> SessionCursor:
        text, separator, tie = raw.strip().partition(TIE_BREAK_SEPARATOR)
        started_at = parse_timestamp(text)  # ValueError on garbage
        if not separator:
            return cls(started_at)
        if not UUID_RE.match(tie):
            raise ValueError("has a malformed tie-break: expected <timestamp>~<session id>")
        return cls(started_at, uuid.UUID(tie))


def session_cursor(started_at: str, tie_id: str | None) -> str:
    """``next_cursor`` from wire-format text: the RFC 3339 instant, ``~id`` only on a tie."""
    return started_at if tie_id is None else f"{started_at}{TIE_BREAK_SEPARATOR}{tie_id}"


def encode_opaque(key: list[str]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


OpaqueKey = tuple  # the sort key of a list's last row: strings, with the row's UUID last


def decode_opaque(raw: str, size: int) -> OpaqueKey:
    """The key: ``size`` strings, the last a UUID (returned as one); ValueError if malformed."""
    try:
        padded = raw.strip() + "=" * (-len(raw.strip()) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise ValueError("is not a cursor returned by this endpoint") from None
    if (
        not isinstance(key, list)
        or len(key) != size
        or not all(isinstance(item, str) and "\x00" not in item for item in key)
        or not UUID_RE.match(key[-1])
    ):
        raise ValueError("is not a cursor returned by this endpoint")
    return (*key[:-1], uuid.UUID(key[-1]))
