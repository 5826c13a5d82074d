"""The peer's views: DRF's generic viewsets over the tenant's rows, as the tutorial writes them.

The tenant comes from the token (``request.auth``, the API's own authentication class), and
each view declares the scope the API's ``HasRequiredScope`` checks."""

from zoneinfo import ZoneInfo

from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncWeek
from rest_framework import viewsets
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from roleplay.models import Rep, Session, Verdict
from tenants.authentication import BearerTokenAuthentication
from tenants.permissions import HasRequiredScope

from . import serializers

BREAKDOWN_PAGE = 1000  # the API's page of groups


class TenantViewSetMixin:
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasRequiredScope]

    @property
    def tenant(self):
        return self.request.auth.tenant


class NewestFirst(CursorPagination):
    ordering = ("-started_at", "-id")
    page_size_query_param = "limit"
    max_page_size = 1000


class ByName(CursorPagination):
    ordering = ("full_name", "id")
    page_size_query_param = "limit"
    max_page_size = 1000


class SessionViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    required_scope = "sessions:read"
    pagination_class = NewestFirst
    lookup_field = "id"

    def get_queryset(self):
        sessions = Session.objects.for_tenant(self.tenant).annotate(scorecard_id=F("scorecard__id"))
        if self.action == "list":
            sessions = sessions.defer("transcript")
        return sessions

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.SessionDetailSerializer
        return serializers.SessionSerializer


class UserViewSet(TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    required_scope = "users:read"
    pagination_class = ByName
    serializer_class = serializers.UserSerializer
    lookup_field = "id"

    def get_queryset(self):
        return Rep.objects.for_tenant(self.tenant).annotate(
            last_session_at=Max("sessions__started_at")
        )


def _sessions_in(tenant, period):
    return Session.objects.for_tenant(tenant).filter(
        started_at__gte=period["from"], started_at__lte=period["to"]
    )


def _avg(total, count):
    return round(total / count) if count else None


class SummaryViewSet(TenantViewSetMixin, viewsets.ViewSet):
    required_scope = "analytics:read"

    def list(self, request):
        query = serializers.PeriodSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        figures = _sessions_in(self.tenant, query.validated_data).aggregate(
            sessions=Count("id"),
            scored=Count("scorecard"),
            score_total=Sum("scorecard__overall_score"),
            unique_reps=Count("user", distinct=True),
        )
        figures["avg_score"] = _avg(figures.pop("score_total"), figures["scored"])
        return Response(serializers.SummarySerializer(figures).data)


class BreakdownViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """by=user,week only: one ``values().annotate()``, weeks of the tenant's time zone."""

    required_scope = "analytics:read"

    def list(self, request):
        query = serializers.BreakdownQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        tz = ZoneInfo(self.tenant.time_zone)
        groups = (
            _sessions_in(self.tenant, query.validated_data)
            .annotate(week=TruncWeek("started_at", tzinfo=tz))
            .values("user_id", "week")
            .annotate(
                sessions=Count("id"),
                scored=Count("scorecard"),
                score_total=Sum("scorecard__overall_score"),
                **{v: Count("scorecard", filter=Q(scorecard__verdict=v)) for v in Verdict.values},
            )
            .order_by("user_id", "week")[:BREAKDOWN_PAGE]
        )
        results = [
            {
                "user_id": g["user_id"],
                "week": g["week"].date(),
                "sessions": g["sessions"],
                "scored": g["scored"],
                "avg_score": _avg(g["score_total"], g["scored"]),
                "unique_reps": 1,
                "verdicts": {v: g[v] for v in Verdict.values},
            }
            for g in groups
        ]
        return Response({"results": serializers.GroupSerializer(results, many=True).data})
