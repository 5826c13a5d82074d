"""The OpenAPI description of the real wire format (drf-spectacular).

Each resource's shape is declared once in its app (core/shapes.py); here it is wrapped in the
success envelope. Every operation gets that envelope, every error it can return in the error
envelope, its parameters with bounds, and the scope it needs, read from the view's
``required_scope`` so that the schema cannot drift from the permission check.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers

from .scopes import NO_SCOPE
from .shapes import Shape

ERROR_CODES = [
    "invalid_parameter",
    "not_authenticated",
    "invalid_token",
    "token_expired",
    "token_revoked",
    "insufficient_scope",
    "not_found",
    "method_not_allowed",
    "rate_limited",
    "resync_required",
    "server_error",
    "unavailable",
    "bad_request",  # beyond the contract's table: a request Django refused (unknown Host)
]


class ApiAutoSchema(AutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        return False  # every response is an envelope object, lists included

    def _scope(self) -> str | None:
        scope = getattr(self.view, "required_scope", None)
        if isinstance(scope, tuple):
            return " | ".join(scope)
        return None if scope == NO_SCOPE else scope

    def get_description(self) -> str:
        description = super().get_description()
        scope = getattr(self.view, "required_scope", None)
        if scope is None:
            return description
        note = "Required scope: none (any valid token)." if scope == NO_SCOPE else None
        if isinstance(scope, tuple):
            note = f"Required scope: `{' | '.join(scope)}` (any one of them)."
        note = note or f"Required scope: `{scope}`."
        return f"{description}\n\n{note}".strip()

    def get_extensions(self) -> dict:
        extensions = dict(super().get_extensions())
        if getattr(self.view, "required_scope", None) is not None:
            extensions["x-required-scope"] = self._scope()
        return extensions


ErrorSerializer = inline_serializer(
    "Error",
    {
        "ok": serializers.BooleanField(help_text="Always false."),
        "error": serializers.CharField(help_text="Human-readable message."),
        "code": serializers.ChoiceField(choices=ERROR_CODES),
        "details": serializers.DictField(
            help_text="Always has `request_id`; `invalid_parameter` maps each bad parameter to "
            "a list of messages; `insufficient_scope` names `required_scope`."
        ),
    },
)


def envelope_of(name: str, shape: Shape, *, paginated: bool = False):
    """The success envelope around one object of ``shape``, or a page of them."""
    data = shape.serializer(many=paginated)
    fields = {"ok": serializers.BooleanField(help_text="Always true."), "data": data}
    if paginated:
        fields["next_cursor"] = serializers.CharField(
            allow_null=True, help_text="Pass as `cursor` for the next page; null on the last."
        )
    return inline_serializer(name, fields)


# -- parameters --------------------------------------------------------------------------------


def query(name: str, schema: dict, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=description)


def enum_query(name: str, values, description: str) -> OpenApiParameter:
    return query(name, {"type": "string", "enum": list(values)}, description)


LIMIT = query(
    "limit",
    {"type": "integer", "minimum": 1, "maximum": 100, "default": 50},
    "Page size, 1-100.",
)
FROM = query(
    "from",
    {"type": "string", "format": "date-time"},
    "Inclusive lower bound on started_at. ISO 8601; no offset means UTC; a date alone "
    "(2026-05-01) is the start of that day.",
)
TO = query(
    "to",
    {"type": "string", "format": "date-time"},
    "Inclusive upper bound on started_at; a date alone is the end of that day. "
    "`from` later than `to` is a 400.",
)
USER_ID = query("user_id", {"type": "string", "format": "uuid"}, "Only this rep's sessions.")
SCENARIO_ID = query(
    "scenario_id", {"type": "string", "format": "uuid"}, "Only this scenario's sessions."
)
SESSION_CURSOR = query(
    "cursor",
    # No example value: Swagger UI's "Try it out" would send it, and the first page a visitor
    # sees would start in the past instead of at the newest session.
    {"type": "string", "format": "session-cursor"},
    "The previous page's `next_cursor`: the RFC 3339 `started_at` of its last session "
    "(sessions strictly before it follow), with `~<session id>` appended only when the next "
    "page starts at that same instant, e.g. `2026-05-06T17:00:00Z~30000000-0000-0000-0000-"
    "000000000004`. Any ISO 8601 timestamp is accepted and means 'strictly before'.",
)
SCENARIO_CURSOR = query(
    "cursor",
    {"type": "string", "format": "scenario-cursor"},
    "The previous page's `next_cursor` (opaque).",
)
USER_CURSOR = query(
    "cursor",
    {"type": "string", "format": "user-cursor"},
    "The previous page's `next_cursor` (opaque).",
)
UPDATED_SINCE = query(
    "updated_since",
    {"type": "string", "format": "date-time"},
    "Only records changed at or after this instant (ISO 8601, read like `from`), oldest change "
    "first by (`updated_at`, `id`); `cursor` is then this list's opaque `next_cursor`. Page to "
    "the end, keep the greatest `updated_at` received and pass it next time: no change is "
    "lost (docs/api-guide.md, Keep a copy in sync).",
)
PATH_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    text = {
        400: "A query parameter is malformed or out of range (`invalid_parameter`).",
        401: "Missing or bad credentials; has `WWW-Authenticate: Bearer`.",
        403: "The token lacks the scope (`insufficient_scope`, `details.required_scope`).",
        404: "No such object, or it belongs to another tenant (`not_found`).",
        410: "`since` (or the cursor's position) is older than the deletions kept "
        "(`resync_required`): copy everything again, then sync from then.",
        429: "Over the token's rate limit (`rate_limited`); has `Retry-After`.",
        500: "A bug (`server_error`); quote `details.request_id`.",
        503: "The database is unreachable (`unavailable`); has `Retry-After`.",
    }
    return {
        status: OpenApiResponse(ErrorSerializer, description=text[status]) for status in statuses
    }


COMMON_ERRORS = (401, 429, 500, 503)


def api_operation(
    *, operation_id: str, summary: str, response, parameters=(), errors=(), examples=()
):
    """The schema of one operation: named for generated clients (``list_sessions``)."""
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=list(parameters),
        responses={200: response, **_errors(*sorted({*errors, *COMMON_ERRORS}))},
        examples=list(examples),
    )


# -- response headers --------------------------------------------------------------------------

HEADERS = {
    "X-Request-ID": (
        "The caller's own X-Request-ID when it is a sane token of at most 128 characters, "
        "otherwise a new one; error bodies repeat it as `details.request_id`.",
        "string",
    ),
    "X-RateLimit-Limit": ("Requests per minute allowed to this token.", "integer"),
    "X-RateLimit-Remaining": ("Requests left in the current minute.", "integer"),
    "X-RateLimit-Reset": ("When the current minute's count resets (Unix seconds).", "integer"),
    "Retry-After": ("Seconds to wait before retrying.", "integer"),
    "WWW-Authenticate": (
        '`Bearer realm="api"`, with `error="invalid_token"` unless the credentials were missing.',
        "string",
    ),
}
RATE_LIMITED = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
# Which responses carry which headers: rate-limit headers once the token is authenticated (so
# not on 401, nor on a 500/503 that escaped the view), Retry-After on 429 and 503.
HEADERS_OF_STATUS = {
    "200": RATE_LIMITED,
    "400": RATE_LIMITED,
    "401": ("WWW-Authenticate",),
    "403": RATE_LIMITED,
    "404": RATE_LIMITED,
    "410": RATE_LIMITED,
    "429": (*RATE_LIMITED, "Retry-After"),
    "503": ("Retry-After",),
}


def add_response_headers(result, generator, request, public):
    """drf-spectacular postprocessing hook: the headers each response really carries."""
    result.setdefault("components", {})["headers"] = {
        name: {"description": text, "schema": {"type": kind}}
        for name, (text, kind) in HEADERS.items()
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                names = ("X-Request-ID", *HEADERS_OF_STATUS.get(status, ()))
                response["headers"] = {
                    name: {"$ref": f"#/components/headers/{name}"} for name in names
                }
    return result


__all__ = [
    "FROM",
    "LIMIT",
    "PATH_ID",
    "SCENARIO_CURSOR",
    "SCENARIO_ID",
    "SESSION_CURSOR",
    "TO",
    "USER_CURSOR",
    "USER_ID",
    "OpenApiExample",
    "api_operation",
]
