"""The request id (echoed when the caller sent a sane one) and the caller (tenant and token
prefix, once authenticated), in every response and log line."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

# Safe in a header and a log line: no spaces, quotes or control characters.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}\Z")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


@dataclass(frozen=True)
class Caller:
    tenant: str  # the tenant's slug
    token_prefix: str  # the visible prefix, never the token


_caller: ContextVar[Caller | None] = ContextVar("caller", default=None)


def set_caller(caller: Caller | None) -> None:
    _caller.set(caller)


def current_caller() -> Caller | None:
    return _caller.get()


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
    """Adds ``request_id``, ``tenant`` and ``token_prefix`` to every log record ("-" outside a
    request or before authentication)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get() or "-"
        caller = _caller.get()
        record.tenant = caller.tenant if caller else "-"
        record.token_prefix = caller.token_prefix if caller else "-"
        return True
