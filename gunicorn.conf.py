"""gunicorn settings for the API (``gunicorn -c gunicorn.conf.py config.wsgi``).

Every knob from the environment with a safe default, like the Django settings.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Threads give keep-alive and overlap database waits; the sync worker has neither.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread" if threads > 1 else "sync"
# No cap of gunicorn's own on the request line: past 4 KB it would answer 414 in HTML, outside
# the API's JSON envelope. Django parses the query string and answers any bad input itself;
# put a proxy with its own limit in front in production.
limit_request_line = 0
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
