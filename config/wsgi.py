import os

from django.conf import settings
from django.core.cache import caches
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()
# What a worker's first request would otherwise import (every view, the cache backends: half a
# second), done now: with gunicorn's preload_app (gunicorn.conf.py) once, before the workers
# fork. Neither opens a connection (the cache's clients connect on first use, in each worker).
get_resolver().reverse_dict  # noqa: B018  (compiles every route of whichever URLconf)
for alias in settings.CACHES:
    caches[alias]
