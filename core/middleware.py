"""Outermost API middleware: the request id, cache headers, and the envelope for errors raised
outside DRF.

DRF's exception handler shapes errors of API views. What it never sees — unknown URLs, Django's
own 4xx pages, exceptions that escape a view, an unreachable database — is turned into the same
envelope here, so no API response is ever HTML, whatever ``DEBUG`` says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.exception import convert_exception_to_response
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from django.utils.module_loading import import_string

from .errors import (
    DB_RETRY_AFTER_SECONDS,
    GENERIC,
    DatabaseUnavailable,
    error_response,
    http_request_is_api,
)
from .observability import DATABASE_ERRORS
from .request_id import choose_request_id, set_caller, set_request_id

logger = logging.getLogger("api")


class ApiEnvelopeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = choose_request_id(request.headers.get("X-Request-ID"))
        request.request_id = request_id
        # Not reset on the way out: Django logs 5xx responses after every middleware returned,
        # and that line needs the id too. The next request on this thread sets its own.
        set_request_id(request_id)
        set_caller(None)  # this thread's previous request is not this one's caller
        response = self.get_response(request)
        if (
            http_request_is_api(request)
            and response.status_code >= 400
            and not getattr(response, "is_envelope", False)
            and "application/json" not in response.get("Content-Type", "")
        ):
            response = self._envelope_for(response)
        response["X-Request-ID"] = request_id
        if http_request_is_api(request):
            # Answers depend on the token and hold customer data (emails among them): no shared
            # cache may keep one or serve it to another token.
            response.setdefault("Cache-Control", "no-store")
            patch_vary_headers(response, ("Authorization",))
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not http_request_is_api(request) or isinstance(exception, SuspiciousOperation):
            return None  # Django answers a SuspiciousOperation with a 400, enveloped above
        if isinstance(exception, OperationalError | InterfaceError) or (
            isinstance(exception, DatabaseError) and _looks_like_connection_loss(exception)
        ):
            retry_after = DB_RETRY_AFTER_SECONDS
            if isinstance(exception, DatabaseUnavailable):
                # Its circuit breaker is open: logged when it opens and closes, not per request.
                retry_after = exception.retry_after
                logger.debug("database unavailable: %s", exception)
            else:
                logger.error("database unavailable: %s", exception)
            DATABASE_ERRORS.inc()
            return error_response(
                503,
                "The service is temporarily unavailable; retry shortly.",
                "unavailable",
                headers={"Retry-After": str(retry_after)},
            )
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Internal server error.", "server_error")

    @staticmethod
    def _envelope_for(response: HttpResponse) -> HttpResponse:
        message, code = GENERIC.get(
            response.status_code,
            ("Request failed.", "server_error" if response.status_code >= 500 else "bad_request"),
        )
        headers = {
            name: response[name] for name in ("Allow", "Retry-After") if response.has_header(name)
        }
        return error_response(response.status_code, message, code, headers=headers)


def _looks_like_connection_loss(exception: Exception) -> bool:
    text = str(exception).lower()
    return "connection" in text and ("refused" in text or "closed" in text or "lost" in text)


class SiteMiddleware:
    """The middleware only the site needs (admin's sessions, CSRF, users and messages,
    django-axes, whitenoise's files: ``settings.SITE_MIDDLEWARE``, in that order), run for the
    site's paths and skipped for the API's, which authenticate by token and answer JSON. On an
    API request they cost a fifth of a session detail (bench/RESULTS.md) and do nothing.

    Wired as Django wires ``MIDDLEWARE`` (django/core/handlers/base.py): each wrapped so that an
    exception becomes a response, and their ``process_view``, ``process_template_response`` and
    ``process_exception`` hooks called in Django's order, for the site's requests only.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        handler = convert_exception_to_response(get_response)
        self._views: list[Callable] = []
        self._templates: list[Callable] = []
        self._exceptions: list[Callable] = []
        for path in reversed(settings.SITE_MIDDLEWARE):
            middleware = import_string(path)(handler)
            if hasattr(middleware, "process_view"):
                self._views.insert(0, middleware.process_view)
            if hasattr(middleware, "process_template_response"):
                self._templates.append(middleware.process_template_response)
            if hasattr(middleware, "process_exception"):
                self._exceptions.append(middleware.process_exception)
            handler = convert_exception_to_response(middleware)
        self._site = handler

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if http_request_is_api(request):
            return self.get_response(request)
        return self._site(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        if http_request_is_api(request):
            return None
        for hook in self._views:
            response = hook(request, view, args, kwargs)
            if response is not None:
                return response
        return None

    def process_template_response(self, request: HttpRequest, response):
        if not http_request_is_api(request):
            for hook in self._templates:
                response = hook(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if http_request_is_api(request):
            return None
        for hook in self._exceptions:
            response = hook(request, exception)
            if response is not None:
                return response
        return None
