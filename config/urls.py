"""The one place URLs are wired: each app's views under /api/v1/, the schema and docs, admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularSwaggerView

from analytics.views import BreakdownViewSet, SummaryViewSet
from core.front import favicon, front
from core.health import healthz, readyz
from core.observability import metrics
from core.schema_view import RedocView, SchemaView
from roleplay.views import ScenarioViewSet, ScorecardViewSet, SessionViewSet, UserViewSet
from sync.views import DeletionViewSet
from tenants.views import TokenViewSet

LIST = {"get": "list"}
RETRIEVE = {"get": "retrieve"}

api_v1 = [
    path("token", TokenViewSet.as_view(LIST), name="token"),
    path("sessions", SessionViewSet.as_view(LIST), name="session-list"),
    path("sessions/<str:id>", SessionViewSet.as_view(RETRIEVE), name="session-detail"),
    path("scorecards", ScorecardViewSet.as_view(LIST), name="scorecard-list"),
    path("scorecards/<str:id>", ScorecardViewSet.as_view(RETRIEVE), name="scorecard-detail"),
    path("scenarios", ScenarioViewSet.as_view(LIST), name="scenario-list"),
    path("scenarios/<str:id>", ScenarioViewSet.as_view(RETRIEVE), name="scenario-detail"),
    path("users", UserViewSet.as_view(LIST), name="user-list"),
    path("users/<str:id>", UserViewSet.as_view(RETRIEVE), name="user-detail"),
    path("deletions", DeletionViewSet.as_view(LIST), name="deletion-list"),
    path("schema", SchemaView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path(
        "redoc",
        RedocView.as_view(url_name="api:schema", template_name="core/redoc.html"),
        name="redoc",
    ),
    path("analytics/summary", SummaryViewSet.as_view(LIST), name="analytics-summary"),
    path("analytics/breakdown", BreakdownViewSet.as_view(LIST), name="analytics-breakdown"),
]

urlpatterns = [
    path("", front, name="front"),
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path(settings.ADMIN_URL_PATH, admin.site.urls),
    path("api/v1/", include((api_v1, "api"))),
]
