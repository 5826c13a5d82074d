"""The test suite: runs against whatever DATABASE_URL names (CI: PostgreSQL)."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never prod
# A query builder core.compiled cannot compile is an error here, not a logged, counted fallback.
COMPILED_QUERIES_STRICT = True
