"""The base of every data endpoint: tenant scoping and scopes that a view cannot forget.

As in PostHog's ``TeamAndOrgViewSetMixin``: the tenant comes from the token, never from the
URL; ``get_queryset``/``get_object`` are final here and hand views rows of that tenant only.
A view narrows through ``safely_get_queryset``; ``dangerously_get_queryset`` names the one place
that sees every tenant. Declaring ``required_scope`` is mandatory (checked at class creation),
and :class:`api.permissions.HasRequiredScope` enforces it.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from tenants.authentication import BearerTokenAuthentication
from tenants.models import ApiToken, Tenant

from .errors import RateLimited
from .params import UUID_RE
from .permissions import HasRequiredScope


class AlwaysJSON(BaseContentNegotiation):
    """The API speaks one format. ``Accept`` and ``?format=`` cannot turn a request into a 406
    or a 404 before it is authenticated: the answer is JSON (the contract: never HTML)."""

    def select_parser(self, request, parsers):
        return None  # read-only: no request bodies

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class TenantScopedViewSet(GenericViewSet):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasRequiredScope]
    throttle_classes: list = []  # rate limiting happens in initial(), before the scope check
    parser_classes: list = []  # read-only API: no request bodies
    content_negotiation_class = AlwaysJSON
    # No OPTIONS: DRF would answer it with its own metadata, outside the envelope.
    http_method_names = ["get", "head"]
    lookup_field = "id"
    required_scope: str

    _FINAL = ("get_queryset", "get_object", "initial", "finalize_response")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in cls._FINAL:
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} must not override {name}(); "
                    "narrow rows with safely_get_queryset() instead"
                )
        if not isinstance(
            cls.__dict__.get("required_scope", getattr(cls, "required_scope", None)), str
        ):
            raise TypeError(f"{cls.__name__} must declare required_scope")

    # -- who is calling ------------------------------------------------------------------------

    @property
    def token(self) -> ApiToken:
        return self.request.auth

    @property
    def tenant(self) -> Tenant:
        return self.request.auth.tenant

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A write method is a 405 whoever asks (the contract), not a 401 or 403 first.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme

        self.perform_authentication(request)
        if isinstance(request.auth, ApiToken):
            token = request.auth
            limit = token.rate_limit_per_minute or settings.API_RATE_LIMIT_PER_MINUTE
            self.rate_usage = request.user.rate.usage(limit)
            if self.rate_usage.exceeded:
                raise RateLimited(self.rate_usage.retry_after)
        self.check_permissions(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        usage = getattr(self, "rate_usage", None)
        if usage is not None:
            for name, value in usage.headers().items():
                response[name] = value
        return response

    def require_scope(self, scope: str) -> None:
        """For an extra scope that only some requests need (``include=email``)."""
        HasRequiredScope().has_permission(
            self.request, type("ExtraScope", (), {"required_scope": scope})()
        )

    # -- rows of this tenant only --------------------------------------------------------------

    def dangerously_get_queryset(self) -> QuerySet:
        """Every tenant's rows: the subclass names its model here. Never call it elsewhere."""
        raise NotImplementedError(f"{type(self).__name__} must define dangerously_get_queryset")

    def safely_get_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        queryset = self.dangerously_get_queryset().filter(tenant=self.tenant)
        if hasattr(queryset, "for_tenant"):
            queryset = queryset.for_tenant(self.tenant)
        return self.safely_get_queryset(queryset)

    def path_id(self) -> uuid.UUID:
        """The id in the URL; anything but a hyphenated UUID is the same 404 as an unknown id."""
        raw = self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")
        if not isinstance(raw, str) or not UUID_RE.match(raw):
            raise exceptions.NotFound()
        return uuid.UUID(raw)

    def get_object(self) -> Model:
        obj = self.get_queryset().filter(id=self.path_id()).first()
        if obj is None:
            raise exceptions.NotFound()
        return obj


def envelope(data: Any, *, next_cursor: str | type[Ellipsis] | None = ...) -> Response:
    body: dict[str, Any] = {"ok": True, "data": data}
    if next_cursor is not ...:
        body["next_cursor"] = next_cursor
    return Response(body)
