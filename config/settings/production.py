"""Production: everything secret or host-specific must come from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import env_bool, env_int, env_str

# Django's own check (security.W009) asks for 50 characters; a short key signs admin sessions
# and CSRF tokens that can be forged offline.
SECRET_KEY_MIN_LENGTH = 50
if len(os.environ.get("DJANGO_SECRET_KEY", "").strip()) < SECRET_KEY_MIN_LENGTH:
    raise ImproperlyConfigured(
        f"DJANGO_SECRET_KEY must be set in production, at least {SECRET_KEY_MIN_LENGTH} "
        "characters (python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )

# Without a shared store every server process keeps its own rate-limit counters (N processes:
# N times the limit) and the token cache stays off. Production runs several processes.
if not REDIS_URL and not env_bool("API_WITHOUT_REDIS", False):  # noqa: F405
    raise ImproperlyConfigured(
        "REDIS_URL must be set in production: server processes share rate limits through it. "
        "For a single server process, set API_WITHOUT_REDIS=1."
    )

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)

# Log pipelines read one JSON object a line.
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT  # noqa: F405
