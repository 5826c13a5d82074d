from django.urls import path

from .views import TokenViewSet

app_name = "api"

urlpatterns = [
    path("token", TokenViewSet.as_view({"get": "list"}), name="token"),
]
