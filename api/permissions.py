"""Scopes are declared on views (``required_scope = "sessions:read"``) and enforced only here."""

from __future__ import annotations

import logging

from rest_framework.permissions import BasePermission

from tenants.models import ApiToken
from tenants.scopes import NO_SCOPE, SCOPES

from .errors import InsufficientScope, NotAuthenticated

logger = logging.getLogger("api.permissions")


class HasRequiredScope(BasePermission):
    """Fails closed: a view that declares no scope (or an unknown one) admits nobody."""

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise NotAuthenticated()
        scope = getattr(view, "required_scope", None)
        if scope == NO_SCOPE:
            return True
        if scope not in SCOPES:
            logger.error("%s declares no valid required_scope (%r): denying", type(view), scope)
            raise InsufficientScope(None)
        if not token.has_scope(scope):
            raise InsufficientScope(scope)
        return True
