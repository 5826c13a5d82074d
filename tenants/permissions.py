"""Scopes are declared on views (``required_scope = "sessions:read"``) and enforced only here.

A tuple of scopes (``required_scope = ("sessions:read", "users:read")``) admits a token with
any one of them: GET /deletions lists each kind to the tokens that may read it."""

from __future__ import annotations

import logging

from rest_framework.permissions import BasePermission

from core.errors import InsufficientScope, NotAuthenticated
from core.scopes import NO_SCOPE

from .models import ApiToken
from .scopes import SCOPES

logger = logging.getLogger("api.permissions")


class HasRequiredScope(BasePermission):
    """Fails closed: a view that declares no scope (or an unknown one) admits nobody."""

    def has_permission(self, request, view) -> bool:
        return self.allows(request, getattr(view, "required_scope", None), view)

    @staticmethod
    def allows(request, scope: str | None, view=None) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise NotAuthenticated()
        if scope == NO_SCOPE:
            return True
        if isinstance(scope, tuple) and scope and all(s in SCOPES for s in scope):
            if not any(token.has_scope(s) for s in scope):
                raise InsufficientScope(" or ".join(scope))
            return True
        if scope not in SCOPES:
            logger.error("%s declares no valid required_scope (%r): denying", type(view), scope)
            raise InsufficientScope(None)
        if not token.has_scope(scope):
            raise InsufficientScope(scope)
        return True
