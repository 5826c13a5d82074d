from rest_framework.request import Request
from rest_framework.response import Response

from tenants.scopes import NO_SCOPE

from .formats import rfc3339
from .schema import TOKEN_ONE, api_operation
from .viewsets import TenantScopedViewSet, envelope


class TokenViewSet(TenantScopedViewSet):
    """``GET /api/v1/token``: who am I? Any valid token may ask (an onboarding check)."""

    required_scope = NO_SCOPE

    @api_operation(
        operation_id="get_token", summary="Describe the calling token", response=TOKEN_ONE
    )
    def list(self, request: Request) -> Response:
        token = self.token
        return envelope(
            {
                "name": token.name,
                "prefix": token.prefix,
                "tenant": {"id": str(token.tenant.id), "name": token.tenant.name},
                "scopes": list(token.scopes),
                "created_at": rfc3339(token.created_at),
                "expires_at": rfc3339(token.expires_at),
                "last_used_at": rfc3339(token.last_used_at),
            }
        )
