"""The base of every API endpoint: read-only, JSON only, a declared scope, no generic querysets.

Tenant scoping lives one layer up (tenants/viewsets.py): this core knows no tenant. What it
fixes for every view: write methods (and OPTIONS) are a 405 before anything else is checked;
the answer is JSON whatever ``Accept`` or ``?format=`` ask, but for the lists that answer CSV
when asked (:func:`wants_csv`, core/export.py), and every error is JSON; a view must declare
``required_scope`` (checked at class creation; ``core.scopes.NO_SCOPE`` is a choice, not an
omission); and a view reads through selectors that take the tenant, never through DRF's
``get_queryset``/``get_object``, which refuse to run here and cannot be overridden.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from django.http import HttpResponseNotModified
from rest_framework import exceptions
from rest_framework.exceptions import NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from .formats import UUID_RE
from .renderers import prefers_csv
from .shapes import Shape


class AlwaysJSON(BaseContentNegotiation):
    """The API speaks one format. ``Accept`` and ``?format=`` cannot turn a request into a 406
    or a 404 before it is authenticated: the answer is JSON (the contract: never HTML)."""

    def select_parser(self, request, parsers):
        return None  # read-only: no request bodies

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ApiViewSet(GenericViewSet):
    throttle_classes: list = []
    parser_classes: list = []  # read-only API: no request bodies
    content_negotiation_class = AlwaysJSON
    # No OPTIONS: DRF would answer it with its own metadata, outside the envelope.
    http_method_names = ["get", "head"]
    lookup_field = "id"
    required_scope: str

    # Methods a subclass may not override. A base class that extends one of DRF's hooks adds
    # its name here for the classes below it.
    FINAL: tuple[str, ...] = ("get_queryset", "get_object", "initial")

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        final = {name for base in cls.__mro__[1:] for name in getattr(base, "FINAL", ())}
        for name in sorted(final & set(cls.__dict__)):
            raise TypeError(
                f"{cls.__name__} must not override {name}(); read through a selector that "
                "takes the tenant instead"
            )
        if not abstract and not isinstance(getattr(cls, "required_scope", None), str | tuple):
            raise TypeError(f"{cls.__name__} must declare required_scope")

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A write method is a 405 whoever asks (the contract), not a 401 or 403 first.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        """A 200 answer to a GET carries a strong ETag of its body; a request whose
        ``If-None-Match`` names it gets a 304 with the ETag and no body instead."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        if response.streaming:  # a CSV export (core/export.py): no ETag, and never buffered
            return response
        response.render()
        tag = etag(response.content)
        response["ETag"] = tag
        if matches(request.META.get("HTTP_IF_NONE_MATCH"), tag):
            not_modified = HttpResponseNotModified()
            not_modified["ETag"] = tag
            return not_modified
        return response

    def get_queryset(self):
        raise TypeError(f"{type(self).__name__} reads through selectors, not get_queryset()")

    def get_object(self):
        raise TypeError(f"{type(self).__name__} reads through selectors, not get_object()")

    def path_id(self) -> uuid.UUID:
        """The id in the URL; anything but a hyphenated UUID is the same 404 as an unknown id."""
        raw = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if not isinstance(raw, str) or not UUID_RE.match(raw):
            raise exceptions.NotFound()
        return uuid.UUID(raw)


def etag(body: bytes) -> str:
    """A strong validator: equal exactly when the bodies are (BLAKE2b-128 of the bytes sent)."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """``If-None-Match`` (RFC 9110 13.1.2: weak comparison, a list, or ``*``) names ``tag``."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False


def wants_csv(request: Request, format: str | None) -> bool:
    """A list's answer is CSV: asked by ``?format=csv`` (``format``, as its query read it, wins
    when given), else by an ``Accept`` that prefers ``text/csv`` (core/renderers.py)."""
    if format is not None:
        return format == "csv"
    return prefers_csv(request.META.get("HTTP_ACCEPT"))


def envelope(data: Any, *, next_cursor: str | type[Ellipsis] | None = ...) -> Response:
    body: dict[str, Any] = {"ok": True, "data": data}
    if next_cursor is not ...:
        body["next_cursor"] = next_cursor
    return Response(body)


def page(
    found: tuple[list[dict[str, Any]], str | None],
    shape: Shape,
    include: frozenset[str] = frozenset(),
) -> Response:
    """A selector's page (rows, next cursor) in the envelope, each row in ``shape``."""
    rows, next_cursor = found
    return envelope([shape.render(row, include) for row in rows], next_cursor=next_cursor)


def one(row: dict[str, Any] | None, shape: Shape, include: frozenset[str] = frozenset()):
    """A selector's one row in the envelope; 404 when there is none (or it is another
    tenant's: the selectors cannot tell them apart)."""
    if row is None:
        raise NotFound()
    return envelope(shape.render(row, include))
