"""Baselines served by the same server as the API, for side-by-side ratios.

- ``/bench/fixed``: a bare Django view returning a fixed JSON body (the framework ceiling).
- ``/bench/offset-sessions``: the sessions list with DRF's LimitOffsetPagination on the same
  queryset and the same output shaping (what keyset pagination is compared with).
- ``/bench/plain-breakdown``: GET /analytics/breakdown's answer (first page of groups) computed
  the plain way: one ``values().annotate()`` over the raw sessions, grouped with the database's
  own time zone truncation, and the categories read from every scorecard of the period.
"""

from datetime import datetime

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Trunc
from django.http import JsonResponse
from django.urls import include, path
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from analytics.selectors import round_half_up
from core import zones
from roleplay.models import Scorecard, Session, Verdict
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


class PlainBreakdownViewSet(TenantScopedViewSet):
    required_scope = "analytics:read"

    def list(self, request):
        by = request.GET["by"].split(",")
        tz = zones.zone(request.GET.get("tz") or self.tenant.time_zone)
        start = datetime.fromisoformat(request.GET["from"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(request.GET["to"].replace("Z", "+00:00"))

        def keys(prefix: str) -> dict:
            out = {}
            for name in by:
                if name in zones.UNITS:
                    out["k_" + name] = Trunc(f"{prefix}started_at", name, tzinfo=tz)
                else:
                    out["k_" + name] = F(f"{prefix}{name}_id")
            return out

        sessions = Session.objects.for_tenant(self.tenant).filter(
            started_at__gte=start, started_at__lte=end
        )
        names = ["k_" + name for name in by]
        groups = (
            sessions.annotate(**keys(""))
            .values(*names)
            .annotate(
                sessions=Count("id"),
                scored=Count("scorecard__id"),
                score_total=Sum("scorecard__overall_score"),
                unique_reps=Count("user_id", distinct=True),
                **{
                    v: Count("scorecard__id", filter=Q(scorecard__verdict=v))
                    for v in Verdict.values
                },
            )
            .order_by(*names)[:1000]
        )
        categories: dict = {}
        cards = Scorecard.objects.for_tenant(self.tenant).filter(
            session__started_at__gte=start, session__started_at__lte=end
        )
        for row in cards.annotate(**keys("session__")).values(*names, "categories", "created_at"):
            group = categories.setdefault(tuple(row[n] for n in names), {})
            for item in row["categories"]:
                entry = group.setdefault(item["key"], [0, 0, None, None])
                entry[0] += 1
                entry[1] += item["score"]
                if entry[2] is None or (row["created_at"], item["label"]) > (entry[2], entry[3]):
                    entry[2], entry[3] = row["created_at"], item["label"]
        data = []
        for g in groups:
            key = tuple(g[n] for n in names)
            data.append(
                {
                    **{n[2:]: str(g[n]) for n in names},
                    "sessions": g["sessions"],
                    "scored": g["scored"],
                    "avg_score": round_half_up(g["score_total"], g["scored"])
                    if g["scored"]
                    else None,
                    "unique_reps": g["unique_reps"],
                    "verdicts": {v: g[v] for v in Verdict.values},
                    "categories": [
                        {
                            "key": k,
                            "label": e[3],
                            "scored": e[0],
                            "avg_score": round_half_up(e[1], e[0]),
                        }
                        for k, e in sorted(categories.get(key, {}).items())
                    ],
                }
            )
        return Response({"ok": True, "data": data})


urlpatterns = [
    path("bench/fixed", fixed),
    path("bench/offset-sessions", OffsetSessionViewSet.as_view({"get": "list"})),
    path("bench/plain-breakdown", PlainBreakdownViewSet.as_view({"get": "list"})),
    path("", include("config.urls")),
]
