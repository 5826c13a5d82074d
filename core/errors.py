"""The contract's error envelope, and the one exception handler that produces it.

Every error leaves as ``{"ok": false, "error", "code", "details"}`` with a stable ``code``.
DRF's exceptions are mapped here; anything else is left to :mod:`core.middleware`, which logs it
with the request id and answers 500 (or 503 when the database is unreachable).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.db import OperationalError, connections
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from .request_id import current_request_id

DB_RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(OperationalError):
    """Refused without asking the database: its circuit breaker is open (core/dbguard.py). The
    middleware answers it as any database outage, a 503 ``unavailable``, with this Retry-After."""

    def __init__(self, retry_after: int):
        super().__init__("database circuit breaker open: the database was not asked")
        self.retry_after = retry_after


class InvalidParameter(exceptions.ValidationError):
    """400: ``details`` maps each bad query parameter to a list of messages."""

    default_code = "invalid_parameter"

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors, code="invalid_parameter")
        self.errors = errors


class NotAuthenticated(exceptions.NotAuthenticated):
    default_detail = "Authentication required: send 'Authorization: Bearer <token>'."
    default_code = "not_authenticated"


class InvalidToken(exceptions.AuthenticationFailed):
    default_detail = "The token is not valid."
    default_code = "invalid_token"


class TokenExpired(exceptions.AuthenticationFailed):
    default_detail = "The token has expired."
    default_code = "token_expired"


class TokenRevoked(exceptions.AuthenticationFailed):
    default_detail = "The token has been revoked."
    default_code = "token_revoked"


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"

    def __init__(self, required_scope: str | None):
        if required_scope:
            message = f"This token lacks the '{required_scope}' scope."
        else:
            message = "This endpoint declares no scope, so no token may call it."
        super().__init__(message)
        self.required_scope = required_scope


class ResyncRequired(exceptions.APIException):
    """A sync asked for changes older than what is kept: it may have missed deletions."""

    status_code = 410
    default_code = "resync_required"


class RateLimited(exceptions.Throttled):
    default_code = "rate_limited"

    def __init__(self, wait: float, message: str = "Too many requests; retry later."):
        super().__init__(wait=wait, detail=message)


def error_body(
    status: int, message: str, code: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    details = dict(details or {})
    details["request_id"] = current_request_id()
    return {"ok": False, "error": message, "code": code, "details": details}


def error_response(
    status: int,
    message: str,
    code: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """For errors raised outside DRF views (unknown URLs, 500s, 503s)."""
    response = JsonResponse(error_body(status, message, code, details), status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    response.is_envelope = True
    return response


# Status codes the middleware may meet outside DRF, and what to call them. A 400 there is a
# request Django itself refused (a Host not in ALLOWED_HOSTS): ``bad_request``, documented in
# the schema's codes beside the contract's.
GENERIC = {
    400: ("Bad request.", "bad_request"),
    403: ("Forbidden.", "forbidden"),
    404: ("Not found.", "not_found"),
    405: ("Method not allowed.", "method_not_allowed"),
    500: ("Internal server error.", "server_error"),
    503: ("Service unavailable.", "unavailable"),
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, TooManyFieldsSent):  # reading request.GET: the query string is the fault
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        exc = InvalidParameter({"query": [f"must have at most {limit} parameters"]})
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug or an outage: the middleware logs it and answers 500/503

    headers: dict[str, str] = {}
    details: dict[str, Any] = {}
    code = exc.get_codes() if isinstance(exc.detail, str) else None
    message = str(exc.detail) if isinstance(exc.detail, str) else ""

    if isinstance(exc, exceptions.ValidationError):
        code, message = "invalid_parameter", "Invalid query parameters."
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field": exc.detail}
        details = {
            k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in details.items()
        }
    elif isinstance(exc, exceptions.NotFound):
        code, message = "not_found", "Not found."
    elif isinstance(exc, exceptions.MethodNotAllowed):
        code, message = "method_not_allowed", "This API is read-only; use GET."
    elif isinstance(exc, exceptions.Throttled):
        code = "rate_limited"
        message = str(exc.detail) if isinstance(exc, RateLimited) else "Too many requests."
        if exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
            details["retry_after"] = int(headers["Retry-After"])
    elif isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        if not isinstance(exc, NotAuthenticated | InvalidToken | TokenExpired | TokenRevoked):
            code = (
                "not_authenticated"
                if isinstance(exc, exceptions.NotAuthenticated)
                else ("invalid_token")
            )
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
        if code != "not_authenticated":
            headers["WWW-Authenticate"] += ', error="invalid_token"'
    elif isinstance(exc, InsufficientScope):
        details["required_scope"] = exc.required_scope
    elif isinstance(exc, exceptions.PermissionDenied):
        code = "insufficient_scope"
    elif isinstance(exc, exceptions.NotAcceptable | exceptions.UnsupportedMediaType):
        code = exc.default_code
    if not isinstance(code, str):
        code = exc.default_code

    _set_rollback()
    return Response(
        error_body(exc.status_code, message, code, details), status=exc.status_code, headers=headers
    )


def _set_rollback() -> None:
    """What DRF's own handler does (rest_framework.views.set_rollback, which this module cannot
    import: loading rest_framework.views loads the permission classes, which import this): an
    error answer rolls back a request that runs in a transaction (ATOMIC_REQUESTS)."""
    for db in connections.all():
        if db.settings_dict["ATOMIC_REQUESTS"] and db.in_atomic_block:
            db.set_rollback(True)


def http_request_is_api(request: HttpRequest) -> bool:
    return not request.path.startswith((f"/{settings.ADMIN_URL_PATH}", "/static/"))
