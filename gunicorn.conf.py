"""gunicorn settings for the API (``gunicorn -c gunicorn.conf.py config.wsgi``).

Every knob from the environment with a safe default, like the Django settings.
"""

import logging
import os
import shutil
import sys
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two processes per core, two threads each: a request spends much of its time waiting on the
# database and Redis, and threads of one process share one GIL. Measured on 2 cores with wrk
# (32 connections): 4 x 2 served the API 20-40% more requests/s than 2 x 4, and 4 x 1 (sync).
workers = int(os.environ.get("GUNICORN_WORKERS", str(2 * (os.cpu_count() or 1))))
# Threads give keep-alive and overlap database waits; the sync worker has neither.
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
worker_class = "gthread" if threads > 1 else "sync"
# A finite request line: unbounded, an unauthenticated 10 MB URL cost 9 s of CPU and left the
# worker 233 MB larger. gunicorn's maximum, twice its default, so that every URL the API's own
# parameters can form reaches Django and its JSON errors; gunicorn answers longer ones itself
# (HTML), which the front proxy of deploy/ refuses earlier, in the envelope.
limit_request_line = int(os.environ.get("GUNICORN_LIMIT_REQUEST_LINE", "8190"))
limit_request_fields = 100
limit_request_field_size = 8190
# A worker grown by one large response is replaced after this many requests; the jitter keeps
# the workers from restarting together. Not fewer: each restart boots Django again, and every
# 10,000 requests the wrk mix's p99 rose from 203 to 900 ms (bench/RESULTS.md, run 7).
# The app is loaded once, in the master, before the workers fork: a worker recycled after
# max_requests answers its first request at once instead of importing Django again (seconds of
# requests queued behind it; bench/recycle.py). Nothing the app starts at import holds a
# connection or a thread: both are made in each worker on first use.
preload_app = os.environ.get("GUNICORN_PRELOAD", "1") != "0"
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
# gunicorn's control socket (for gunicornc) defaults to one path per user, which every gunicorn
# that user runs on the machine would share (the cluster's two app servers, the benches): off,
# unless a path of its own is given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None

# Metrics summed across the worker processes (core/observability.py): each writes its counts to
# files in this folder, which GET /metrics reads. A fresh folder per server start.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_dir = tempfile.mkdtemp(prefix="api-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def when_ready(server):
    # With preload_app the master imported the app, and with it made its own series of the
    # per-process gauges (one a live process reports: core/observability.py). The master serves
    # nothing: drop them, or its zeros would stand beside the workers' for good.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid())


def child_exit(server, worker):
    # Imported here, not above: prometheus_client picks its storage when first imported, which
    # must be after PROMETHEUS_MULTIPROC_DIR is set (the workers inherit the module).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def worker_exit(server, worker):
    # A worker leaving normally (recycled after max_requests, or shut down) skips the
    # interpreter's teardown: a third of a second spent freeing a Django process's objects one
    # by one before the master may start its successor, while requests queue (bench/recycle.py).
    # Its connections are closed and its log flushed first. Any other exit (a worker that failed
    # to boot, say) goes the normal way, with the code the master reads.
    leaving = sys.exc_info()[1]
    if not isinstance(leaving, SystemExit) or leaving.code not in (0, None):
        return
    from django.db import connections

    connections.close_all()
    logging.shutdown()
    os._exit(0)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
