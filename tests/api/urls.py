"""The real URLs plus a few probe views that exercise the API core before any data endpoint."""

from django.db import OperationalError
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from api.viewsets import TenantScopedViewSet, envelope
from config.urls import urlpatterns as real_urlpatterns
from sessions_api.models import Session


class ProbeSessionViewSet(TenantScopedViewSet):
    required_scope = "sessions:read"

    def dangerously_get_queryset(self):
        return Session.objects.all()

    def list(self, request):
        return envelope([str(s.id) for s in self.get_queryset().order_by("id")], next_cursor=None)

    def retrieve(self, request, id):
        return envelope({"id": str(self.get_object().id)})


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
