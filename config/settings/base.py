"""Settings shared by every environment. Environment modules override, never the reverse."""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from .env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-dev-only-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "core",
    "tenants",
    "sync",
    "webhooks",
    "roleplay",
    # Migrations only, under the labels of the apps merged into roleplay (roleplay/history).
    "roleplay.history.sessions_api",
    "roleplay.history.scorecards",
    "analytics",
    "importing",
]

MIDDLEWARE = [
    # Outermost: every response gets X-Request-ID, and API errors the JSON envelope.
    # Outside everything else: times the whole request, counts it, logs one access line.
    "core.observability.ObservabilityMiddleware",
    "core.middleware.ApiEnvelopeMiddleware",
    # Inside the envelope: a database call cut at its deadline is answered 503 there.
    "core.dbguard.DatabaseDeadlineMiddleware",
    # With a replica: which database this request reads (core/replicas.py).
    "core.replicas.ReplicaMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # What only the site (admin, its assets) needs, skipped for the API's paths.
    "core.middleware.SiteMiddleware",
]
# Run by core.middleware.SiteMiddleware, in this order, for the site's requests only.
SITE_MIDDLEWARE = [
    # Serves admin and docs assets (Swagger UI, Redoc) from the app itself: no CDN, no nginx.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Last, as django-axes asks: answers a locked-out admin login.
    "axes.middleware.AxesMiddleware",
]
# admin and django-axes look for their middleware in MIDDLEWARE only; it is in SITE_MIDDLEWARE,
# run for every path admin serves (tests/admin holds sign-in, lockout and CSRF working).
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "axes.W002"]

# Where admin lives (no leading slash, a trailing one): move it off the guessable default, or
# serve it only on an internal name through the front proxy.
ADMIN_URL_PATH = env_str("ADMIN_URL_PATH", "admin/")
if not ADMIN_URL_PATH.endswith("/") or ADMIN_URL_PATH.startswith("/"):
    raise ValueError(f"ADMIN_URL_PATH must look like 'admin/', got {ADMIN_URL_PATH!r}")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Unset DATABASE_URL means the embedded SQLite demo database in the project folder, so that
# the one-command demo needs no server; production sets postgres://...
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        # Off by default (Django's default too): the check is a round trip before every
        # request, 18% of a worker's time under load (bench/RESULTS.md). Without it, a
        # connection broken by a database restart fails one request per thread with a 503
        # (Retry-After) and is replaced at the end of that request.
        conn_health_checks=env_bool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
# Behind a pooler in transaction mode (PgBouncer's pool_mode=transaction), each transaction may
# run on another server connection: nothing may outlive one. "transaction" turns off what would
# (prepared statements, server-side cursors, startup options); set the timeouts on the database
# role instead (README, "Behind a pooler"; deploy/pgbouncer/). "none": a direct connection.
DATABASE_POOL_MODE = env_str("DATABASE_POOL_MODE", "none")
if DATABASE_POOL_MODE not in ("none", "transaction"):
    raise ValueError(f"DATABASE_POOL_MODE must be none or transaction, got {DATABASE_POOL_MODE!r}")
# A read-only streaming replica for the API's reads (core/replicas.py): reads go there while it
# has replayed to within DATABASE_REPLICA_MAX_LAG_SECONDS of the primary, to the primary
# otherwise; writes, admin, commands and the token lookups always go to the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
DATABASE_REPLICA_MAX_LAG_SECONDS = env_int("DATABASE_REPLICA_MAX_LAG_SECONDS", 5)
# How often each server process asks both servers where their WAL stands (core/replicas.py).
DATABASE_REPLICA_CHECK_SECONDS = env_int("DATABASE_REPLICA_CHECK_MS", 500) / 1000
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(
        DATABASE_REPLICA_URL,
        conn_max_age=DATABASES["default"]["CONN_MAX_AGE"],
        conn_health_checks=DATABASES["default"]["CONN_HEALTH_CHECKS"],
    )
    # Tests read through the same connection as they write: there is no replica there.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]


def _postgresql(database: dict) -> None:
    if database["ENGINE"] != "django.db.backends.postgresql":
        return
    # Values sent apart from the SQL and each query shape prepared after its fifth run on a
    # connection, so PostgreSQL plans it once rather than on every request (the API's reads
    # are few shapes, compiled once: core/compiled.py). Off behind a transaction-mode pooler
    # (PgBouncer before 1.21 cannot keep prepared statements), or with
    # DATABASE_PREPARE_THRESHOLD=-1. Added to, not replacing, what the URL's query string set.
    prepare_threshold = env_int("DATABASE_PREPARE_THRESHOLD", 5)
    if DATABASE_POOL_MODE == "transaction":
        prepare_threshold = -1
        # A named cursor lives as long as its transaction; Django's .iterator() would hold one
        # across autocommit statements otherwise.
        database["DISABLE_SERVER_SIDE_CURSORS"] = True
    options = database.setdefault("OPTIONS", {})
    options.update(
        server_side_binding=env_bool("DATABASE_SERVER_SIDE_BINDING", True),
        prepare_threshold=None if prepare_threshold < 0 else prepare_threshold,
    )
    # Shown in pg_stat_activity (PgBouncer passes it on to the server connection it lends).
    if application_name := env_str("DATABASE_APPLICATION_NAME", ""):
        options.setdefault("application_name", application_name)
    # Every wait on the database is bounded (README, "Timeouts"): a connection attempt, a
    # statement, a lock, a transaction left open and idle; keepalives and tcp_user_timeout
    # notice a server gone without a word. manage.py sets the statement, lock and idle bounds to
    # 0 (none) unless given: a million-session import is one transaction of many minutes.
    # 0 turns a bound off. Values in the URL's query string win. A transaction-mode pooler
    # refuses startup options: there the role carries them (ALTER ROLE ... SET).
    if DATABASE_POOL_MODE == "none":
        server_bounds = {
            "statement_timeout": env_int("DATABASE_STATEMENT_TIMEOUT_MS", 10_000),
            "lock_timeout": env_int("DATABASE_LOCK_TIMEOUT_MS", 5_000),
            "idle_in_transaction_session_timeout": env_int(
                "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", 30_000
            ),
        }
        options["options"] = " ".join(
            [f"-c {name}={value}" for name, value in server_bounds.items()]
            + ([options["options"]] if options.get("options") else [])
        )
    for name, value in {
        "connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 5),
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
    }.items():
        options.setdefault(name, value)
    # Django's backend, hooked so that a connection a request opens, and its health check, go
    # through the database's circuit breaker and deadline (core/dbguard.py, api/postgresql/).
    database["ENGINE"] = "core.postgresql"


for _database in DATABASES.values():
    _postgresql(_database)

# A request's database call running past this is cut from outside (core/dbguard.py), so that a
# server that hangs without a word cannot hold worker threads: above the statement timeout,
# which a server that still answers enforces itself. 0 turns it off.
API_DB_CALL_DEADLINE_SECONDS = env_int("API_DB_CALL_DEADLINE_SECONDS", 12)
# The database's circuit breaker (core/dbguard.py), per server process: this many calls cut at
# the deadline or connections that failed to open, within the window, open it; while open,
# requests that need the database are answered 503 (Retry-After) at once instead of each holding
# a worker thread for the deadline, so the threads stay free for the rest (/healthz). After
# the open period one request at a time tries the database, and its success closes the breaker.
# 0 failures turns it off.
API_DB_BREAKER_FAILURES = env_int("API_DB_BREAKER_FAILURES", 3)
API_DB_BREAKER_WINDOW_SECONDS = env_int("API_DB_BREAKER_WINDOW_SECONDS", 30)
API_DB_BREAKER_OPEN_SECONDS = env_int("API_DB_BREAKER_OPEN_SECONDS", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Finders as a fallback to collectstatic, so a fresh checkout serves the docs pages at once.
WHITENOISE_USE_FINDERS = True

# The API is read-only and server-to-server; the only cookies are the admin's.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# "plain" (easier on a terminal) or "json" (one object a line: production's default).
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ValueError(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.request_id.RequestIdLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s "
            "tenant=%(tenant)s token=%(token_prefix)s %(message)s"
        },
        # One JSON object a line, for log pipelines: the fields above, and an access line's
        # method, path, status, duration_ms and endpoint.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(tenant)s "
            "%(token_prefix)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        },
        "null": {"class": "logging.NullHandler"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django logs every 4xx as a warning; our own middleware logs what matters.
        "django.request": {"level": "ERROR"},
        # A Host not in ALLOWED_HOSTS is a scanner's everyday probe, answered 400: Django would
        # log each with its traceback.
        # (A handler is needed: with none, Python's last-resort handler prints it anyway.)
        "django.security.DisallowedHost": {"handlers": ["null"], "propagate": False},
        # The webhook queue says at every process start that it registered its tasks; its
        # per-job lines are for debugging (the attempts table keeps every delivery).
        "procrastinate": {"level": env_str("PROCRASTINATE_LOG_LEVEL", "WARNING")},
    },
}

REST_FRAMEWORK = {
    # Defaults that fail closed: a view that forgets to say otherwise needs a token and a scope.
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.permissions.HasRequiredScope"],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    # OPTIONS would describe a view in DRF's own format, outside the envelope: a 405 instead.
    "DEFAULT_METADATA_CLASS": None,
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "core.schema.ApiAutoSchema",
}

# A shared store is what makes N server processes enforce one rate limit: Redis in production.
# Without REDIS_URL (the SQLite demo, one process) an in-process cache does the job.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    _redis_timeout = env_int("REDIS_TIMEOUT_MS", 100) / 1000
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "rr"),
            # Fast: a round trip takes well under a millisecond, and a hung Redis must not hold
            # requests (tenants/ratelimit.py opens its circuit breaker on the first timeout).
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": _redis_timeout, "SOCKET_TIMEOUT": _redis_timeout},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Admin sign-in attempts, counted by django-axes: a client address or a username with
# ADMIN_LOGIN_FAILURE_LIMIT failures is refused (429) for ADMIN_LOGIN_COOLOFF_MINUTES. The
# address is the API's (core.clients.client_ip): API_TRUSTED_PROXY_HOPS applies here too.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# In Redis when there is one (every server process sees each attempt); in the database for the
# one-process demo, where the cache is the process's own.
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler"
    if REDIS_URL
    else "axes.handlers.database.AxesDatabaseHandler"
)
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "core.clients.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
API_RATE_LIMIT_CACHE = "default"
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
# How long GET /api/v1/deletions keeps a deletion (manage.py prune_deletions removes older ones);
# a sync from further back is answered 410 resync_required.
DELETIONS_RETENTION_DAYS = env_int("DELETIONS_RETENTION_DAYS", 90)
# Per client address; generous for honest typos, tight for someone guessing tokens.
API_FAILED_AUTH_PER_MINUTE = env_int("API_FAILED_AUTH_PER_MINUTE", 30)
# Proxies in front of the servers that append to X-Forwarded-For (a load balancer, nginx): with
# 0, failed authentications are counted per REMOTE_ADDR, which behind a proxy is the proxy, so
# one client's guesses would lock out every client.
API_TRUSTED_PROXY_HOPS = env_int("API_TRUSTED_PROXY_HOPS", 0)
# Webhooks (docs/webhooks.md). Endpoints must be https and public unless these are on
# (development and tests turn them on: their receivers are local).
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = env_bool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", False)
# Seconds to wait after the 1st, 2nd, ... failure of a delivery (up to 10% jitter added); when
# spent, the delivery is failed.
WEBHOOK_RETRY_SCHEDULE = env_str("WEBHOOK_RETRY_SCHEDULE", "5,300,1800,7200,18000,36000,36000")
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 15)
# An endpoint whose every attempt failed for this long is disabled.
WEBHOOK_DISABLE_AFTER_HOURS = env_int("WEBHOOK_DISABLE_AFTER_HOURS", 120)
# Events, deliveries and attempts are kept this long (manage.py prune_webhooks).
WEBHOOK_RETENTION_DAYS = env_int("WEBHOOK_RETENTION_DAYS", 30)
# POSTs in flight to one endpoint at once; and endpoints one worker delivers to at once.
WEBHOOK_ENDPOINT_CONCURRENCY = env_int("WEBHOOK_ENDPOINT_CONCURRENCY", 4)
WEBHOOK_WORKER_CONCURRENCY = env_int("WEBHOOK_WORKER_CONCURRENCY", 8)
# SQLite only (no LISTEN/NOTIFY, no procrastinate): how often the worker looks for due deliveries.
WEBHOOK_POLL_SECONDS = float(env_str("WEBHOOK_POLL_SECONDS", "1"))
if DATABASES["default"]["ENGINE"] == "core.postgresql":
    # The delivery queue (webhooks/queue.py): procrastinate's tables live in the same database.
    INSTALLED_APPS.insert(INSTALLED_APPS.index("webhooks"), "procrastinate.contrib.django")
    PROCRASTINATE_READONLY_MODELS = True

# last_used_at is for humans ("is this token still in use?"): minutes of precision suffice.
API_TOKEN_LAST_USED_INTERVAL_SECONDS = env_int("API_TOKEN_LAST_USED_INTERVAL_SECONDS", 300)
# Tokens cached per server process (tenants/token_cache.py): revocation still takes effect on
# the next request through the epoch in Redis; this bounds only changes made around the
# services, and, while Redis does not answer, ones it could not be told of.
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 60)
# How long a token change (a revocation) retries telling the servers through Redis before it
# says it could not (tenants/services.py, token_caches_invalidate).
API_TOKEN_EPOCH_RETRY_SECONDS = env_int("API_TOKEN_EPOCH_RETRY_SECONDS", 10)

SPECTACULAR_SETTINGS = {
    "TITLE": "Role-play reporting API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Read-only reporting on AI sales role-play training: sessions with transcripts, "
        "scorecards, scenarios, users (reps) and an analytics summary. Every request sends "
        "`Authorization: Bearer <token>`; a token sees only its own tenant and each operation "
        'names the scope it needs (`x-required-scope`). Success: `{"ok": true, "data": ...}`'
        ' (lists add `next_cursor`); errors: `{"ok": false, "error", "code", '
        '"details"}`.'
    ),
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs pages and the schema are public; trying an endpoint needs a token.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Self-hosted Swagger UI / Redoc assets: the docs work with no internet access.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "SERVERS": [{"url": "/", "description": "this server"}],
    # In the order a newcomer needs them (the docs pages follow this list): who am I, then the
    # data, then keeping a copy of it.
    "TAGS": [
        {"name": "token", "description": "Who the token is: its tenant and scopes."},
        {"name": "sessions", "description": "Role-play calls, newest first, with transcripts."},
        {"name": "scorecards", "description": "How each scored session went."},
        {"name": "scenarios", "description": "What the reps practise."},
        {"name": "users", "description": "The reps, managers and admins of the tenant."},
        {"name": "analytics", "description": "Totals and averages over a period."},
        {"name": "deletions", "description": "What was deleted, for clients keeping a copy."},
    ],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.add_response_headers",
    ],
    "ENUM_NAME_OVERRIDES": {
        # The models' TextChoices, by path: settings load before the apps.
        "SessionStatusEnum": "roleplay.models.Session.Status",
        "ScenarioStatusEnum": "roleplay.models.Scenario.Status",
        "RoleEnum": "roleplay.models.Rep.Role",
        "ErrorCodeEnum": "core.schema.ERROR_CODES",
    },
}
