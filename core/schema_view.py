"""The schema endpoint, apart from core/schema.py: drf-spectacular's views module reads DRF's
settings on import, which name ``core.schema.ApiAutoSchema``."""

from __future__ import annotations

import threading

from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    """The schema: one document per process, generated once, by one thread.

    The schema depends only on the code (SERVE_PUBLIC, fixed SERVERS), yet drf-spectacular
    rebuilds it on every request (~55 ms of CPU, no token needed), and its class loading is not
    thread-safe: concurrent first requests on a fresh worker answered 500. Nothing of the query
    reaches it: drf-spectacular's ``?version=`` made a document per value, kept forever, and
    put the caller's text into ``info.version`` and the ``Content-Disposition`` header.
    """

    _lock = threading.Lock()
    _document: dict | None = None

    def _get_schema_response(self, request):
        with self._lock:
            if SchemaView._document is None:
                generator = self.generator_class(urlconf=self.urlconf, patterns=self.patterns)
                SchemaView._document = generator.get_schema(request=None, public=True)
        return Response(
            data=SchemaView._document,
            headers={"Content-Disposition": f'inline; filename="{self._get_filename(request)}"'},
        )

    def _get_filename(self, request, version=None) -> str:
        suffix = self.perform_content_negotiation(request, force=True)[0].format
        return f"{spectacular_settings.TITLE or 'schema'}.{suffix}"


class RedocView(SpectacularRedocView):
    """Redoc with nothing fetched from another host: its bundle draws the Redocly logo from
    cdn.redoc.ly, which fails offline and tells that host who reads the docs. The page's policy
    keeps images to this host (the browser then never asks)."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = "img-src 'self' data:"
        return response
