"""The test suite: runs against whatever DATABASE_URL names (CI: PostgreSQL)."""

from .base import *  # noqa: F403
from .env import env_bool

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never prod
# A query builder core.compiled cannot compile is an error here, not a logged, counted fallback.
COMPILED_QUERIES_STRICT = True

# Receivers in development and tests are local, plain-HTTP servers (docs/webhooks.md).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", True)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", True)
