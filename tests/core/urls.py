"""The real URLs plus a few probe views that exercise the API core before any data endpoint."""

from django.db import OperationalError
from django.urls import include, path
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as real_urlpatterns
from core.viewsets import envelope
from roleplay.models import Session
from tenants.viewsets import TenantScopedViewSet


class ProbeSessionViewSet(TenantScopedViewSet):
    """Reads the way every data view does: through the tenant guard, with the path's id."""

    required_scope = "sessions:read"

    def list(self, request):
        sessions = Session.objects.for_tenant(self.tenant).order_by("id")
        return envelope([str(s.id) for s in sessions], next_cursor=None)

    def retrieve(self, request, id):
        found = Session.objects.for_tenant(self.tenant).filter(id=self.path_id()).first()
        if found is None:
            raise NotFound()
        return envelope({"id": str(found.id)})


class BoomViewSet(TenantScopedViewSet):
    required_scope = "sessions:read"

    def list(self, request):
        raise RuntimeError("boom: a bug")


class DatabaseDownViewSet(TenantScopedViewSet):
    required_scope = "sessions:read"

    def list(self, request):
        raise OperationalError("connection to server at 127.0.0.1 port 5432 failed: refused")


class ForgotScopeView(APIView):
    """Uses the project defaults but declares no required_scope: must admit nobody."""

    def get(self, request):
        return Response({"ok": True, "data": "should never be seen"})


urlpatterns = [
    path("probe/sessions", ProbeSessionViewSet.as_view({"get": "list"})),
    path("probe/sessions/<str:id>", ProbeSessionViewSet.as_view({"get": "retrieve"})),
    path("probe/boom", BoomViewSet.as_view({"get": "list"})),
    path("probe/db-down", DatabaseDownViewSet.as_view({"get": "list"})),
    path("probe/forgot-scope", ForgotScopeView.as_view()),
    path("", include(real_urlpatterns)),
]
