"""GET /api/v1/token: who the calling token is."""

from rest_framework.request import Request
from rest_framework.response import Response

from core.examples import example
from core.schema import api_operation, envelope_of
from core.scopes import NO_SCOPE
from core.viewsets import envelope

from .shapes import TOKEN_INFO, token_example
from .viewsets import TenantScopedViewSet

TOKEN_ONE = envelope_of("TokenEnvelope", TOKEN_INFO)


class TokenViewSet(TenantScopedViewSet):
    """``GET /api/v1/token``: who am I? Any valid token may ask (an onboarding check)."""

    required_scope = NO_SCOPE

    @api_operation(
        operation_id="get_token",
        summary="Describe the calling token",
        response=TOKEN_ONE,
        examples=example(token_example),
    )
    def list(self, request: Request) -> Response:
        return envelope(TOKEN_INFO.from_object(self.token))
