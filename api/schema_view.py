"""The schema endpoint, apart from api/schema.py: drf-spectacular's views module reads DRF's
settings on import, which name ``api.schema.ApiAutoSchema``."""

from __future__ import annotations

import threading

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.response import Response


class SchemaView(SpectacularAPIView):
    """The schema, generated once per process, by one thread.

    The schema depends only on the code (SERVE_PUBLIC, fixed SERVERS), yet drf-spectacular
    rebuilds it on every request (~55 ms of CPU, no token needed), and its class loading is not
    thread-safe: concurrent first requests on a fresh worker answered 500.
    """

    _lock = threading.Lock()
    _cached: dict = {}

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        with self._lock:
            if version not in self._cached:
                generator = self.generator_class(
                    urlconf=self.urlconf, api_version=version, patterns=self.patterns
                )
                self._cached[version] = generator.get_schema(request=None, public=True)
        filename = self._get_filename(request, version)
        return Response(
            data=self._cached[version],
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )


class RedocView(SpectacularRedocView):
    """Redoc with nothing fetched from another host: its bundle draws the Redocly logo from
    cdn.redoc.ly, which fails offline and tells that host who reads the docs. The page's policy
    keeps images to this host (the browser then never asks)."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = "img-src 'self' data:"
        return response
