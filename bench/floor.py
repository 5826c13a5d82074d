"""The HTTP floor (issue #25): the API's own SQL, served by a bare WSGI app.

    gunicorn -c gunicorn.conf.py bench.floor:app          # FLOOR_QUERIES, FLOOR_DATABASE_URL

No framework: psycopg 3 and orjson. For each request it knows (the exact path and query string
of one benchmarked endpoint) it checks the Bearer token, runs the statements the API ran for
that request and answers their rows as JSON. What no server could skip is kept; everything else
the API does (parsing, routing, middleware, rate limits, shaping, ETags) is not. bench/near_floor.py
measures it beside the API and the textbook DRF peer (bench/textbook/).

**The SQL is captured from the API, so it cannot drift.** :func:`capture` (run by the harness
before any server starts: ``python bench/floor.py capture SPEC OUT``) sends each endpoint's request
to the API in-process (Django's test ``Client``, with a real token of the tenant), under
``django.test.utils.CaptureQueriesContext`` and an ``execute_wrapper`` that sees each statement's
SQL and parameters as they go to psycopg (the captured query log only holds them interpolated).
It keeps the statements that read the domain tables (sessions, scenarios, scorecards, users and
the analytics rollups) and leaves out the authentication's (``tenants_apitoken``: the token
lookup, the ``last_used_at`` touch); any other statement is an error, so nothing is dropped
unseen. Each request is sent twice and the statements of both must be the same (a request
shape the API compiles on first use would show here). The file written holds, per request: the
statements in order, their parameters (typed: UUIDs, timestamps, dates, decimals; the tenant's
id as a placeholder bound from the token), which columns hold JSON text (passed through as
``orjson.Fragment``, as the API's shapes do), the rows each statement returned in the API, the
page size, the scope the API's view requires, and how many items the API's answer held.

**The token check** (a decision; the floor is a floor for an *authenticated* API): one indexed
lookup of the token's SHA-256 on ``tenants_apitoken.token_hash`` (unique), joined to its tenant,
on every request, with no cache: unknown, revoked, expired or of a deactivated tenant is 401,
a token without the endpoint's scope 403. The token's tenant is bound into the statements in
place of the tenant the SQL was captured for. The API caches tokens per process (validated by
a Redis round trip that also counts the rate limit); the floor does neither: no Redis, no rate
limit, one primary-key-cheap query instead.

**Serving** as the API is served: the harness starts it with the API's own gunicorn.conf.py (same
workers, threads and limits). One connection per worker thread, autocommit, the session's
TimeZone UTC as Django sets it; statements are prepared (``prepare=True``: the API's connections
prepare each shape after its fifth run), values bound server-side as the API binds them
(``DATABASE_SERVER_SIDE_BINDING``). The answer: ``{"ok": true, "data": [...], "more": [...]}``,
``data`` the first statement's rows (cut to the page size: a list fetches one row more to learn
whether another page follows), ``more`` the other statements' rows, each row an object keyed by
the column names of the SQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import threading
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.types.string import TextLoader

ROOT = Path(__file__).resolve().parent.parent

# -- parameters as JSON ------------------------------------------------------------------------

TENANT = {"$": "tenant"}  # the token's tenant, bound per request


def encode_param(value: Any, tenant_id: uuid.UUID) -> Any:
    """A statement parameter as JSON, its type kept (psycopg adapts each type its own way)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, uuid.UUID):
        return TENANT if value == tenant_id else {"$": "uuid", "v": str(value)}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError(f"a naive datetime parameter: {value!r}")
        return {"$": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {"$": "time", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$": "decimal", "v": str(value)}
    if isinstance(value, timedelta):
        return {"$": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, list | tuple):
        return {"$": "list", "v": [encode_param(v, tenant_id) for v in value]}
    raise TypeError(f"no JSON form for a parameter of type {type(value).__name__}: {value!r}")


def decode_param(value: Any) -> Any:
    """The parameter :func:`encode_param` wrote (the tenant placeholder stays as it is)."""
    if not isinstance(value, dict):
        return value
    kind = value["$"]
    if kind == "tenant":
        return value
    raw = value["v"]
    if kind == "uuid":
        return uuid.UUID(raw)
    if kind == "datetime":
        return datetime.fromisoformat(raw)
    if kind == "date":
        return date.fromisoformat(raw)
    if kind == "time":
        return time.fromisoformat(raw)
    if kind == "decimal":
        return Decimal(raw)
    if kind == "timedelta":
        return timedelta(days=raw[0], seconds=raw[1], microseconds=raw[2])
    if kind == "list":
        return [decode_param(v) for v in raw]
    raise ValueError(f"unknown parameter kind {kind!r}")


# -- the capture (Django: run by the harness, never by the server) ------------------------------

# The tables whose reads the floor replays; the authentication's are left out; anything else
# is refused (a statement the floor would neither replay nor knowingly skip).
DOMAIN = re.compile(
    r'"(sessions_api_session|sessions_api_scenario|scorecards_scorecard|tenants_rep|analytics_\w+)"'
)
AUTH = re.compile(r'"tenants_apitoken"')
# A setting the API makes for its own transaction (the breakdown turns PostgreSQL's JIT off):
# the floor makes it too, in a transaction of its own around the endpoint's statements.
SETTING = re.compile(r"^\s*SET\s+LOCAL\s+\w+\s*=\s*[\w.]+\s*$", re.IGNORECASE)
# Transaction control: in the query log, never through the execute wrapper.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def _json_columns(rows: list[tuple], description) -> list[int]:
    """The text columns every non-null value of which is a JSON array or object: the API's
    ``JSONText`` columns (JSON documents read as text), which it sends on unparsed."""
    found = []
    for i in range(len(description or ())):
        values = [row[i] for row in rows if row[i] is not None]
        if not values or not all(isinstance(v, str) and v[:1] in "[{" for v in values):
            continue
        try:
            for v in values:
                orjson.loads(v)
        except orjson.JSONDecodeError:
            continue
        found.append(i)
    return found


def _capture_once(client, path: str, token: str, tenant_id: uuid.UUID) -> tuple[dict, list]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    seen: list[dict[str, Any]] = []

    def record(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        cursor = context["cursor"].cursor  # psycopg's, under Django's wrapper
        entry: dict[str, Any] = {"sql": sql, "params": params, "many": many, "rows": None}
        if cursor.description is not None:
            rows = cursor.fetchall()
            cursor.scroll(0, mode="absolute")  # the caller fetches them again
            entry["rows"] = len(rows)
            entry["columns"] = [c.name for c in cursor.description]
            entry["json_columns"] = _json_columns(rows, cursor.description)
        seen.append(entry)
        return result

    with CaptureQueriesContext(connection) as logged, connection.execute_wrapper(record):
        response = client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")
    if response.status_code != 200:
        raise RuntimeError(f"the API answered {path} with {response.status_code}: "
                           f"{response.content[:300]!r}")  # fmt: skip
    logged_sql = [
        q["sql"] for q in logged.captured_queries if not q["sql"].upper().startswith(CONTROL)
    ]
    if len(logged_sql) != len(seen):
        raise RuntimeError(
            f"{path}: the query log holds {len(logged_sql)} statements, the "
            f"execute wrapper saw {len(seen)}"
        )
    for entry, logged_entry in zip(seen, logged_sql, strict=True):
        entry["as_logged"] = logged_entry
    statements, skipped, settings = [], [], []
    for entry in seen:
        sql = entry["sql"]
        if SETTING.match(sql) and not entry["params"]:
            settings.append(sql)
            continue
        if AUTH.search(sql):
            skipped.append({"why": "authentication", "sql": entry["as_logged"]})
            continue
        if not DOMAIN.search(sql) or entry["rows"] is None or entry["many"]:
            raise RuntimeError(f"{path}: a statement the floor cannot classify: {sql[:300]}")
        params = [encode_param(p, tenant_id) for p in entry["params"] or ()]
        if TENANT not in params:
            raise RuntimeError(f"{path}: a statement not bound to the tenant: {sql[:300]}")
        statements.append(
            {
                "sql": sql,
                "params": params,
                "columns": entry["columns"],
                "json_columns": entry["json_columns"],
                "api_rows": entry["rows"],
            }
        )
    if not statements:
        raise RuntimeError(f"{path}: no statement of the domain tables was captured")
    body = json.loads(response.content)
    data = body["data"]
    answer = {"api_items": len(data) if isinstance(data, list) else 1}
    return {"statements": statements, "settings": settings, "skipped": skipped, **answer}, seen


def capture(spec: dict[str, Any]) -> dict[str, Any]:
    """The statements of each endpoint of ``spec`` (token, tenant_id, endpoints: name, path,
    page_size), as :mod:`bench.floor`'s app replays them."""
    import django

    django.setup()
    from django.test import Client
    from django.urls import resolve

    tenant_id = uuid.UUID(spec["tenant_id"])
    client = Client()
    out: dict[str, Any] = {"tenant_id": str(tenant_id), "endpoints": {}}
    for endpoint in spec["endpoints"]:
        path = endpoint["path"]
        # The API's second answer to the same request: anything compiled or cached on first
        # use is in place; the two must run the same statements.
        first, _ = _capture_once(client, path, spec["token"], tenant_id)
        second, _ = _capture_once(client, path, spec["token"], tenant_id)
        if [s["sql"] for s in first["statements"]] != [s["sql"] for s in second["statements"]]:
            raise RuntimeError(f"{path}: two requests ran different statements")
        view = resolve(path.split("?", 1)[0]).func
        out["endpoints"][path] = {
            "name": endpoint["name"],
            "scope": view.cls.required_scope,
            "page_size": endpoint.get("page_size"),
            **second,
            # The first request's too: the second may find the token in the API's cache.
            "skipped": first["skipped"] + second["skipped"],
        }
    return out


# -- the server ---------------------------------------------------------------------------------

TOKEN_SQL = (
    "SELECT t.tenant_id, t.scopes ? %s FROM tenants_apitoken t "
    "JOIN tenants_tenant n ON n.id = t.tenant_id "
    "WHERE t.token_hash = %s AND n.is_active "
    "AND (t.revoked_at IS NULL OR t.revoked_at > now()) "
    "AND (t.expires_at IS NULL OR t.expires_at > now())"
)
JSON = [("Content-Type", "application/json")]


class Endpoint:
    def __init__(self, path: str, spec: dict[str, Any]) -> None:
        self.path = path
        self.scope: str = spec["scope"]
        self.page_size: int | None = spec.get("page_size")
        self.settings: list[str] = spec.get("settings", [])
        self.statements = [
            (
                s["sql"],
                [decode_param(p) for p in s["params"]],
                [i for i, p in enumerate(s["params"]) if p == TENANT],
                _unique(s["columns"]),
                frozenset(s["json_columns"]),
            )
            for s in spec["statements"]
        ]


def _unique(names: list[str]) -> tuple[str, ...]:
    """The columns' names as keys: an unnamed expression is ``coalesce`` as often as it
    occurs, and each must keep its own key."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return tuple(out)


def load(path: str | os.PathLike) -> dict[str, Endpoint]:
    captured = orjson.loads(Path(path).read_bytes())
    return {target: Endpoint(target, spec) for target, spec in captured["endpoints"].items()}


_local = threading.local()
_endpoints: dict[str, Endpoint] | None = None


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(
            os.environ["FLOOR_DATABASE_URL"], autocommit=True, options="-c TimeZone=UTC"
        )
        conn.adapters.register_loader("jsonb", TextLoader)  # as Django's connections
        _local.conn = conn
    return conn


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):  # SUM() of integers is numeric in PostgreSQL
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(type(value).__name__)


def _rows(cursor, names: tuple[str, ...], json_columns: frozenset[int]) -> list[dict[str, Any]]:
    if len(cursor.description) != len(names):
        raise psycopg.ProgrammingError("the statement's columns are not those captured")
    rows = cursor.fetchall()
    if json_columns:
        rows = [
            [orjson.Fragment(v) if i in json_columns and v is not None else v
             for i, v in enumerate(row)]
            for row in rows
        ]  # fmt: skip
    return [dict(zip(names, row, strict=True)) for row in rows]


def _answer(start_response, status: str, body: dict[str, Any]):
    payload = orjson.dumps(body, default=_default)
    start_response(status, [*JSON, ("Content-Length", str(len(payload)))])
    return [payload]


def _error(start_response, status: str, message: str):
    return _answer(start_response, status, {"ok": False, "error": {"message": message}})


def app(environ, start_response):
    global _endpoints
    if _endpoints is None:
        _endpoints = load(os.environ["FLOOR_QUERIES"])
    target = environ.get("PATH_INFO", "")
    if query := environ.get("QUERY_STRING"):
        target = f"{target}?{query}"
    endpoint = _endpoints.get(target)
    if endpoint is None:
        return _error(start_response, "404 Not Found", "Not found.")
    scheme, _, raw = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return _error(start_response, "401 Unauthorized", "Send a Bearer token.")
    token_hash = hashlib.sha256(raw.strip().encode()).hexdigest()
    conn = _connection()
    try:
        with conn.cursor() as cursor:
            cursor.execute(TOKEN_SQL, [endpoint.scope, token_hash], prepare=True)
            found = cursor.fetchone()
            if found is None:
                return _error(start_response, "401 Unauthorized", "Invalid token.")
            tenant_id, allowed = found
            if not allowed:
                return _error(start_response, "403 Forbidden", f"Needs {endpoint.scope}.")
            results = []
            with conn.transaction() if endpoint.settings else contextlib.nullcontext():
                for setting in endpoint.settings:
                    cursor.execute(setting)
                for sql, params, tenant_at, names, json_columns in endpoint.statements:
                    bound = list(params)
                    for i in tenant_at:
                        bound[i] = tenant_id
                    cursor.execute(sql, bound, prepare=True)
                    results.append(_rows(cursor, names, json_columns))
    except psycopg.Error as exc:
        if conn.broken:
            _local.conn = None
        return _error(start_response, "500 Internal Server Error", f"{type(exc).__name__}: {exc}")
    data = results[0] if endpoint.page_size is None else results[0][: endpoint.page_size]
    body: dict[str, Any] = {"ok": True, "data": data}
    if len(results) > 1:
        body["more"] = results[1:]
    return _answer(start_response, "200 OK", body)


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] != "capture":
        sys.exit("usage: python bench/floor.py capture SPEC.json OUT.json")
    sys.path.insert(0, str(ROOT))
    spec = json.loads(Path(sys.argv[2]).read_text())
    captured = capture(spec)
    Path(sys.argv[3]).write_bytes(orjson.dumps(captured, option=orjson.OPT_INDENT_2))
    for path, endpoint in captured["endpoints"].items():
        rows = [s["api_rows"] for s in endpoint["statements"]]
        print(f"{path}: {len(rows)} statement(s), rows {rows}, skipped "
              f"{len(endpoint['skipped'])} (authentication)")  # fmt: skip


if __name__ == "__main__":
    main()
