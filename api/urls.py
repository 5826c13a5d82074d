from django.urls import path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from analytics.views import SummaryViewSet
from scorecards.views import ScorecardViewSet
from sessions_api.views import ScenarioViewSet, SessionViewSet
from tenants.views import UserViewSet

from .views import TokenViewSet

app_name = "api"

LIST = {"get": "list"}
RETRIEVE = {"get": "retrieve"}

urlpatterns = [
    path("token", TokenViewSet.as_view(LIST), name="token"),
    path("sessions", SessionViewSet.as_view(LIST), name="session-list"),
    path("sessions/<str:id>", SessionViewSet.as_view(RETRIEVE), name="session-detail"),
    path("scorecards/<str:id>", ScorecardViewSet.as_view(RETRIEVE), name="scorecard-detail"),
    path("scenarios", ScenarioViewSet.as_view(LIST), name="scenario-list"),
    path("users", UserViewSet.as_view(LIST), name="user-list"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path(
        "redoc",
        SpectacularRedocView.as_view(url_name="api:schema", template_name="api/redoc.html"),
        name="redoc",
    ),
    path("analytics/summary", SummaryViewSet.as_view(LIST), name="analytics-summary"),
]
