"""The site's middleware (sessions, CSRF, users, messages, django-axes, whitenoise) runs for
admin and its assets, never for the API (core.middleware.SiteMiddleware)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import Client, RequestFactory

from core.middleware import SiteMiddleware

pytestmark = pytest.mark.django_db

calls: list[tuple[str, str]] = []


class Recorder:
    """A site middleware that notes each hook it is asked to run."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        calls.append(("call", request.path))
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        calls.append(("view", request.path))

    def process_exception(self, request, exception):
        calls.append(("exception", request.path))
        return HttpResponse("handled", status=418)


@pytest.fixture
def recorded(settings):
    settings.SITE_MIDDLEWARE = [f"{__name__}.Recorder"]
    calls.clear()
    return SiteMiddleware(lambda request: HttpResponse("inner"))


def test_an_api_request_skips_every_site_hook(recorded):
    request = RequestFactory().get("/api/v1/sessions")
    assert recorded(request).content == b"inner"
    assert recorded.process_view(request, None, (), {}) is None
    assert recorded.process_exception(request, ValueError()) is None
    assert calls == []


def test_a_site_request_runs_each_hook_in_order(recorded, settings):
    request = RequestFactory().get(f"/{settings.ADMIN_URL_PATH}login/")
    assert recorded(request).content == b"inner"
    assert recorded.process_view(request, None, (), {}) is None
    assert recorded.process_exception(request, ValueError()).status_code == 418
    path = request.path
    assert calls == [("call", path), ("view", path), ("exception", path)]


def test_admin_still_enforces_csrf_and_signs_in_with_a_session():
    User.objects.create_superuser("op", "op@example.test", "right-password")
    strict = Client(enforce_csrf_checks=True)
    refused = strict.post("/admin/login/", {"username": "op", "password": "right-password"})
    assert refused.status_code == 403  # no CSRF token: CsrfViewMiddleware ran
    page = strict.get("/admin/login/")
    token = page.cookies["csrftoken"].value
    signed_in = strict.post(
        "/admin/login/?next=/admin/",
        {"username": "op", "password": "right-password", "csrfmiddlewaretoken": token},
    )
    assert signed_in.status_code == 302 and "sessionid" in signed_in.cookies
    assert strict.get("/admin/").status_code == 200  # the session and the user, read back


def test_an_api_answer_sets_no_cookie_and_does_not_vary_on_one(api):
    response = api.get("/api/v1/token")
    assert response.status_code == 200
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")
