"""The peer's endpoints, at the API's paths (so one wrk script serves all three servers)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter(trailing_slash="")
router.register("sessions", views.SessionViewSet, basename="session")
router.register("users", views.UserViewSet, basename="user")
router.register("analytics/summary", views.SummaryViewSet, basename="summary")
router.register("analytics/breakdown", views.BreakdownViewSet, basename="breakdown")

urlpatterns = [path("api/v1/", include(router.urls))]
