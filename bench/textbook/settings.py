"""The API's production settings (bench/settings.py: the same middleware, database options,
Redis and token cache), with the textbook peer's URLs and DRF's own defaults for what the
tutorial leaves at its default: the JSON renderer, the exception handler."""

from bench.settings import *  # noqa: F403
from bench.settings import REST_FRAMEWORK

ROOT_URLCONF = "bench.textbook.urls"

REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasRequiredScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    "PAGE_SIZE": 100,
}
