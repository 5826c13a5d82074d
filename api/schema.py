"""The OpenAPI description of the real wire format (drf-spectacular).

Data shapes are documented with serializers here (the views shape output with plain functions
for speed; tests check both agree). Every operation gets the success envelope, every error it
can return in the error envelope, its parameters with bounds, and the scope it needs, read from
the view's ``required_scope`` so that the schema cannot drift from the permission check.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
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

from tenants.scopes import NO_SCOPE, SCOPES

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
    "server_error",
    "unavailable",
    "bad_request",  # beyond the contract's table: a request Django refused (unknown Host)
]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "tenants.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "rpt_<32 base62><6 base62 checksum>",
            "description": "An API token of one tenant, created by an operator "
            "(`manage.py create_token` or Django admin).",
        }


class ApiAutoSchema(AutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        return False  # every response is an envelope object, lists included

    def _scope(self) -> str | None:
        scope = getattr(self.view, "required_scope", None)
        return scope if scope in SCOPES else None

    def get_description(self) -> str:
        description = super().get_description()
        scope = getattr(self.view, "required_scope", None)
        if scope == NO_SCOPE:
            note = "Required scope: none (any valid token)."
        elif scope in SCOPES:
            note = f"Required scope: `{scope}`."
        else:
            return description
        return f"{description}\n\n{note}".strip()

    def get_extensions(self) -> dict:
        extensions = dict(super().get_extensions())
        if getattr(self.view, "required_scope", None) is not None:
            extensions["x-required-scope"] = self._scope()
        return extensions


# -- data shapes -------------------------------------------------------------------------------

SESSION_STATUSES = ["in_progress", "completed", "scored", "abandoned", "failed"]


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    scenario_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=SESSION_STATUSES)
    started_at = serializers.DateTimeField(help_text="RFC 3339, UTC, `Z` suffix.")
    ended_at = serializers.DateTimeField(allow_null=True)
    duration_seconds = serializers.IntegerField(allow_null=True, min_value=0)
    created_at = serializers.DateTimeField()
    scorecard_id = serializers.UUIDField(
        allow_null=True, help_text="Set exactly when status is `scored`."
    )


class TurnSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["agent", "user"], help_text="agent: the AI persona")
    message = serializers.CharField(allow_blank=True)
    time = serializers.FloatField(min_value=0, help_text="Seconds since the session started.")


class SessionDetailSerializer(SessionSerializer):
    transcript = TurnSerializer(many=True)


class CategorySerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    score = serializers.IntegerField(min_value=0, max_value=100)
    feedback = serializers.CharField(allow_blank=True)


class CalloutSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["strength", "improvement"])
    text = serializers.CharField()
    time = serializers.FloatField(allow_null=True, min_value=0)


class ScorecardSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    session_id = serializers.UUIDField()
    user_id = serializers.UUIDField()
    scenario_id = serializers.UUIDField()
    overall_score = serializers.IntegerField(min_value=0, max_value=100)
    verdict = serializers.ChoiceField(
        choices=["crushed_it", "solid", "needs_work", "missed_the_mark"]
    )
    headline = serializers.CharField()
    categories = CategorySerializer(many=True)
    callouts = CalloutSerializer(many=True)
    created_at = serializers.DateTimeField()


class ScenarioSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    call_type = serializers.CharField()
    status = serializers.ChoiceField(choices=["active", "archived"])
    created_at = serializers.DateTimeField()


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    full_name = serializers.CharField()
    role = serializers.ChoiceField(choices=["rep", "manager", "admin"])
    last_session_at = serializers.DateTimeField(allow_null=True)
    email = serializers.EmailField(
        required=False,
        allow_null=True,
        help_text="Only with `include=email` and the `users:email` scope.",
    )


class TenantRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class TokenInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    tenant = TenantRefSerializer()
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=list(SCOPES)))
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)


SummarySerializer = inline_serializer(
    "Summary",
    {
        "from": serializers.DateTimeField(),
        "to": serializers.DateTimeField(),
        "sessions": serializers.IntegerField(min_value=0),
        "scored": serializers.IntegerField(min_value=0),
        "avg_score": serializers.IntegerField(
            allow_null=True, min_value=0, max_value=100, help_text="null when scored is 0"
        ),
        "unique_reps": serializers.IntegerField(min_value=0),
    },
)

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


def _envelope(name: str, data, *, paginated: bool = False):
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
    {"type": "string", "format": "session-cursor", "example": "2026-05-06T17:00:00Z"},
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
PATH_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _errors(*statuses: int) -> dict[int, OpenApiResponse]:
    text = {
        400: "A query parameter is malformed or out of range (`invalid_parameter`).",
        401: "Missing or bad credentials; has `WWW-Authenticate: Bearer`.",
        403: "The token lacks the scope (`insufficient_scope`, `details.required_scope`).",
        404: "No such object, or it belongs to another tenant (`not_found`).",
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


SESSION_PAGE = _envelope("SessionPage", SessionSerializer(many=True), paginated=True)
SESSION_ONE = _envelope("SessionDetailEnvelope", SessionDetailSerializer())
SCORECARD_ONE = _envelope("ScorecardEnvelope", ScorecardSerializer())
SCENARIO_PAGE = _envelope("ScenarioPage", ScenarioSerializer(many=True), paginated=True)
USER_PAGE = _envelope("UserPage", UserSerializer(many=True), paginated=True)
SUMMARY_ONE = _envelope("SummaryEnvelope", SummarySerializer)
TOKEN_ONE = _envelope("TokenEnvelope", TokenInfoSerializer())

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
