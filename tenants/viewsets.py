"""The base of every data endpoint: the calling token's tenant, and scopes that a view cannot
forget (as PostHog's ``TeamAndOrgViewSetMixin``: the tenant comes from the token, never from
the URL).

A view reads through selectors that take ``tenant=self.tenant``; each selector starts from
``Model.objects.for_tenant(tenant)`` (tenants/scoping.py), which refuses to run unscoped.
``self.tenant`` fails closed: without an authenticated token there is no tenant to read.
Before the scope is checked, the request is counted against the token's rate limit, so a
token over its limit gets 429 whatever it asks.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request

from core.errors import NotAuthenticated, RateLimited
from core.observability import RATE_LIMITED
from core.viewsets import ApiViewSet

from . import ratelimit
from .authentication import BearerTokenAuthentication
from .models import ApiToken, Tenant
from .permissions import HasRequiredScope


class TenantScopedViewSet(ApiViewSet, abstract=True):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasRequiredScope]
    FINAL = (*ApiViewSet.FINAL, "check_permissions", "finalize_response")

    @property
    def token(self) -> ApiToken:
        token = self.request.auth
        if not isinstance(token, ApiToken):
            raise NotAuthenticated()
        return token

    @property
    def tenant(self) -> Tenant:
        return self.token.tenant

    def check_permissions(self, request: Request) -> None:
        if isinstance(request.auth, ApiToken):
            limit = request.auth.rate_limit_per_minute or settings.API_RATE_LIMIT_PER_MINUTE
            self.rate_usage = request.user.rate.usage(limit)
            if self.rate_usage.exceeded:
                RATE_LIMITED.labels("token").inc()
                raise RateLimited(self.rate_usage.retry_after)
        super().check_permissions(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        usage = getattr(self, "rate_usage", None)
        if usage is not None and response.status_code == 304:
            # Not counted: the client already holds the answer (ETag, core/viewsets.py).
            usage = ratelimit.refund(request.user.rate).usage(usage.limit)
        if usage is not None:
            for name, value in usage.headers().items():
                response[name] = value
        return response

    def require_scope(self, scope: str) -> None:
        """For an extra scope that only some requests need (``include=email``)."""
        HasRequiredScope.allows(self.request, scope, self)
