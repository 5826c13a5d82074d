"""Baselines served by the same server as the API, for side-by-side ratios.

- ``/bench/fixed``: a bare Django view returning a fixed JSON body (the framework ceiling).
- ``/bench/offset-sessions``: the sessions list with DRF's LimitOffsetPagination on the same
  queryset and the same output shaping (what keyset pagination is compared with).
"""

from django.http import JsonResponse
from django.urls import include, path
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from roleplay.models import Session
from roleplay.shapes import SESSION
from tenants.viewsets import TenantScopedViewSet

FIXED = {"ok": True, "data": {"id": "30000000-0000-0000-0000-000000000001", "status": "scored"}}


def fixed(request):
    return JsonResponse(FIXED)


class OffsetSessionViewSet(TenantScopedViewSet):
    required_scope = "sessions:read"

    def list(self, request):
        sessions = Session.objects.for_tenant(self.tenant)
        rows = sessions.order_by("-started_at", "-id").values(**SESSION.columns())
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return Response(
            {
                "ok": True,
                "data": [SESSION.render(r) for r in page],
                "next": paginator.get_next_link(),
            }
        )


urlpatterns = [
    path("bench/fixed", fixed),
    path("bench/offset-sessions", OffsetSessionViewSet.as_view({"get": "list"})),
    path("", include("config.urls")),
]
