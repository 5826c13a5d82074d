"""The request id: echoed when the caller sent a sane one, in every response and log line."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

# Safe in a header and a log line: no spaces, quotes or control characters.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}\Z")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def choose_request_id(incoming: str | None) -> str:
    if incoming and SANE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None):
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        return True
