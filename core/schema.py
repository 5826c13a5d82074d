"""The OpenAPI description of the real wire format (drf-spectacular).

Each resource's shape is declared once in its app (core/shapes.py); here it is wrapped in the
success envelope. Every operation gets that envelope, every error it can return in the error
envelope, its parameters with bounds (the query's from the view's ``Query``, core/params.py,
which its parser reads), and the scope it needs, read from the view's ``required_scope`` so
that the schema cannot drift from the permission check.
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

from .params import FORMAT, Documented, Query
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


def query_parameter(documented: Documented) -> OpenApiParameter:
    """A query parameter as its declaration documents it (core/params.py)."""
    name, schema, description, required = documented
    return OpenApiParameter(
        name, schema, OpenApiParameter.QUERY, description=description, required=required
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
NOT_MODIFIED = OpenApiResponse(
    description="The request's `If-None-Match` names this answer's `ETag`: no body, not counted "
    "against the rate limit."
)


# The body of a list's 200 when asked for CSV (core/export.py), beside the JSON page.
CSV_BODY = {
    "type": "string",
    "description": "With `format=csv` or `Accept: text/csv`: RFC 4180, a header row of the "
    "object's field names, then every record that matches the filters in the list's order "
    "(not one page), streamed. Nested values are JSON text in their cell; a text cell that "
    "begins with `=`, `+`, `-`, `@`, a tab or a carriage return starts with `'`.",
}


def api_operation(
    *,
    operation_id: str,
    summary: str,
    response,
    query: Query | None = None,
    parameters=(),
    errors=(),
    examples=(),
):
    """The schema of one operation: named for generated clients (``list_sessions``). Its query
    parameters are the view's :class:`~core.params.Query`, the one its parser reads; other
    ``parameters`` (the path's) as given."""
    for parameter in parameters:
        if parameter.location == OpenApiParameter.QUERY:
            raise TypeError(f"query parameter {parameter.name!r}: declare it in query=, once")
    documented = query.documented if query is not None else ()
    # A list whose query declares ``format`` answers CSV too (core/export.py).
    answers = {200: response}
    if query is not None and FORMAT in query.params:
        answers = {(200, "application/json"): response, (200, "text/csv"): CSV_BODY}
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        parameters=[*parameters, *map(query_parameter, documented)],
        responses={
            **answers,
            304: NOT_MODIFIED,
            **_errors(*sorted({*errors, *COMMON_ERRORS})),
        },
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
    "RateLimit-Policy": (
        'The IETF form of the limit: `"default";q=<requests>;w=60` (per 60-second window).',
        "string",
    ),
    "RateLimit": (
        'What remains of it: `"default";r=<requests left>;t=<seconds until the window resets>`.',
        "string",
    ),
    "ETag": (
        "A strong validator of this answer's body: send it back as `If-None-Match` to get a "
        "304 while the answer is unchanged. Not on a CSV export (streamed).",
        "string",
    ),
    "Content-Disposition": (
        'A CSV export only: `attachment; filename="<list>.csv"`.',
        "string",
    ),
    "Retry-After": ("Seconds to wait before retrying.", "integer"),
    "WWW-Authenticate": (
        '`Bearer realm="api"`, with `error="invalid_token"` unless the credentials were missing.',
        "string",
    ),
}
RATE_LIMITED = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
)
# Which responses carry which headers: rate-limit headers once the token is authenticated (so
# not on 401, nor on a 500/503 that escaped the view), Retry-After on 429 and 503.
HEADERS_OF_STATUS = {
    "200": ("ETag", *RATE_LIMITED),
    "304": ("ETag", *RATE_LIMITED),
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
                if "text/csv" in response.get("content", {}):
                    names += ("Content-Disposition",)
                response["headers"] = {
                    name: {"$ref": f"#/components/headers/{name}"} for name in names
                }
    return result


__all__ = [
    "PATH_ID",
    "OpenApiExample",
    "api_operation",
    "query_parameter",
]
