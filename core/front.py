"""The front door: ``/`` leads a newcomer to the docs, the reference, the schema and admin
(admin's "View site" lands here too)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

DEFAULT_ADMIN_PATH = "admin/"


@require_GET
def front(request: HttpRequest) -> HttpResponse:
    # A moved admin is moved to be found only by those told where: the public page keeps quiet.
    admin_url = "/admin/" if settings.ADMIN_URL_PATH == DEFAULT_ADMIN_PATH else None
    return render(request, "core/front.html", {"admin_url": admin_url})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    # No icon of our own: an empty answer, not a 404 in every browser's console.
    return HttpResponse(status=204)
