"""``manage.py import_data``: every rule of docs/import-format.md."""

import gc
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from analytics.selectors import summary, summary_plain
from core.params import parse_timestamp
from importing.importer import Importer
from roleplay.models import Rep, Scenario, Scorecard, Session
from tenants.models import Tenant
from tenants.services import tenant_bulk_upsert
from tests.importing.lines import (
    ACME,
    GLOBEX,
    run_import,
    run_import_failing,
    run_import_stdin,
    scenario,
    scorecard,
    session,
    snapshot,
    tenant,
    to_bytes,
    user,
    valid_file,
    write_file,
)

pytestmark = pytest.mark.django_db

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo.jsonl"


def test_happy_path_loads_every_record_type(tmp_path):
    output = run_import(write_file(tmp_path, valid_file()))

    assert "2 tenants, 3 users, 2 scenarios, 3 sessions, 1 scorecard" in output
    assert Tenant.objects.count() == 2
    s1 = Session.unscoped.get(id="30000000-0000-0000-0000-000000000001")
    assert s1.tenant_id.hex.endswith("a1")
    assert s1.status == "scored"
    assert s1.started_at == datetime(2026, 5, 6, 17, 0, tzinfo=UTC)
    assert s1.created_at == s1.started_at  # defaults to started_at
    assert s1.transcript[0] == {"role": "agent", "message": "¿Hola? Wer ist da? 🏠", "time": 0}
    card = Scorecard.unscoped.get(session=s1)
    assert card.callouts[1] == {"kind": "improvement", "text": "Close earlier.", "time": None}
    assert Rep.unscoped.get(id="a0000000-0000-0000-0000-000000000003").email == ""
    s2 = Session.unscoped.get(id="30000000-0000-0000-0000-000000000002")
    assert (s2.ended_at, s2.duration_seconds, s2.transcript) == (None, None, [])


def test_demo_fixture_imports(tmp_path):
    run_import(str(DEMO))
    assert set(Tenant.objects.values_list("slug", flat=True)) == {"acme", "globex"}
    for slug in ("acme", "globex"):
        statuses = set(Session.unscoped.filter(tenant__slug=slug).values_list("status", flat=True))
        assert statuses == {"in_progress", "completed", "scored", "abandoned", "failed"}
    scored = Session.unscoped.filter(status="scored")
    assert (
        scored.count()
        == Scorecard.unscoped.count()
        == scored.filter(scorecard__isnull=False).count()
    )


def test_reimport_is_a_no_op(tmp_path):
    path = write_file(tmp_path, valid_file())
    run_import(path)
    before = snapshot()
    run_import(path)
    assert snapshot() == before


def test_reimport_of_the_demo_is_a_no_op():
    run_import(str(DEMO))
    before = snapshot()
    run_import(str(DEMO))
    assert snapshot() == before


def test_upsert_updates_changed_fields(tmp_path):
    run_import(write_file(tmp_path, valid_file()))
    run_import(write_file(tmp_path, [user(1, full_name="Jordan R. Reyes", role="manager")]))
    rep = Rep.unscoped.get(id="a0000000-0000-0000-0000-000000000001")
    assert (rep.full_name, rep.role) == ("Jordan R. Reyes", "manager")
    assert Rep.unscoped.count() == 3


def test_dash_reads_standard_input(monkeypatch):
    output = run_import_stdin(monkeypatch, to_bytes(valid_file()))
    assert "3 sessions" in output
    assert Session.unscoped.count() == 3


def test_dry_run_writes_nothing(tmp_path):
    output = run_import(write_file(tmp_path, valid_file()), "--dry-run")
    assert "dry run" in output
    assert all(rows == [] for rows in snapshot().values())


def test_a_scorecard_sets_its_sessions_status(tmp_path):
    run_import(
        write_file(
            tmp_path, [tenant(), user(), scenario(), session(1, status="completed"), scorecard(1)]
        )
    )
    assert Session.unscoped.get(id="30000000-0000-0000-0000-000000000001").status == "scored"


def test_a_scorecard_without_created_at_gets_the_import_time_and_keeps_it(tmp_path):
    card = scorecard(1)
    del card["created_at"]
    path = write_file(tmp_path, [tenant(), user(), scenario(), session(1), card])
    before = datetime.now(UTC)
    run_import(path)
    first = Scorecard.unscoped.get().created_at
    assert before <= first <= datetime.now(UTC)
    run_import(path)
    assert Scorecard.unscoped.get().created_at == first


def test_a_scorecard_can_score_a_session_already_stored(tmp_path):
    run_import(write_file(tmp_path, [tenant(), user(), scenario(), session(1)]))
    run_import(write_file(tmp_path, [scorecard(1)], "more.jsonl"))
    assert Session.unscoped.get(id="30000000-0000-0000-0000-000000000001").status == "scored"


def test_scored_session_may_rely_on_a_stored_scorecard(tmp_path):
    run_import(write_file(tmp_path, valid_file()))
    run_import(write_file(tmp_path, [session(1, status="scored")], "again.jsonl"))


def test_references_resolve_across_batches(tmp_path):
    records = valid_file()
    path = write_file(tmp_path, records)
    from django.core.management import call_command

    call_command("import_data", path, "--batch-size", "2", stdout=__import__("io").StringIO())
    assert Session.unscoped.count() == 3 and Scorecard.unscoped.count() == 1


def _existing_data(tmp_path):
    run_import(write_file(tmp_path, valid_file(), "base.jsonl"))
    return snapshot()


S1 = "30000000-0000-0000-0000-000000000001"


def initech(**kw):
    return tenant("00000000-0000-0000-0000-0000000000c3", slug="initech", **kw)


BAD_LINES = {
    "bad JSON": (b'{"type": "user", "id": ', "not valid JSON"),
    "not an object": (b"[1, 2, 3]", "must be a JSON object"),
    "missing type": ({"id": S1}, "type: is required"),
    "unknown type": ({"type": "meeting", "id": S1}, "unknown type"),
    "missing field": (
        {k: v for k, v in session(9).items() if k != "started_at"},
        "started_at: is required",
    ),
    "malformed uuid": (session(9, user_id="not-a-uuid"), "user_id: must be a UUID"),
    "uuid and a newline": (user(9, id=user(9)["id"] + "\n"), "id: must be a UUID"),
    "slug and a newline": (
        tenant("00000000-0000-0000-0000-0000000000c3", slug="initech\n"),
        "slug",
    ),
    "malformed timestamp": (session(9, started_at="yesterday"), "started_at: must be an RFC"),
    "timestamp without offset": (session(9, started_at="2026-05-06T17:00:00"), "offset"),
    # Instants before year 1 or after 9999 in UTC, which Python cannot hold.
    "timestamp before year 1 in UTC": (
        session(9, started_at="0001-01-01T00:30:00+01:00"),
        "started_at: must fall between years 0001 and 9999 in UTC",
    ),
    "timestamp after 9999 in UTC": (
        scenario(9, created_at="9999-12-31T23:30:00-01:00"),
        "created_at: must fall between years 0001 and 9999 in UTC",
    ),
    "ends before start": (session(9, ended_at="2026-05-06T16:00:00Z"), "ended_at"),
    "bad session status": (session(9, status="paused"), "status: must be one of"),
    "negative duration": (session(9, duration_seconds=-1), "duration_seconds"),
    "boolean duration": (session(9, duration_seconds=True), "duration_seconds: must be an int"),
    "bad turn role": (
        session(9, transcript=[{"role": "robot", "message": "x", "time": 0}]),
        "transcript[0].role",
    ),
    "transcript not a list": (session(9, transcript="hello"), "transcript: must be a list"),
    "score above 100": (scorecard(1, overall_score=101), "overall_score: must be between 0"),
    "score below 0": (scorecard(1, overall_score=-1), "overall_score"),
    "bad verdict": (scorecard(1, verdict="meh"), "verdict: must be one of"),
    "category score out of range": (
        scorecard(1, categories=[{"key": "k", "label": "L", "score": 150}]),
        "categories[0].score",
    ),
    "bad callout kind": (
        scorecard(1, callouts=[{"kind": "meh", "text": "t", "time": 1}]),
        "callouts[0].kind",
    ),
    "bad role": (user(9, role="boss"), "role: must be one of"),
    "bad email": (user(9, email="not-an-email"), "email"),
    "blank name": (user(9, full_name="  "), "full_name: must not be blank"),
    "bad scenario status": (scenario(9, status="draft"), "status: must be one of"),
    "bad slug": (tenant("00000000-0000-0000-0000-0000000000c3", slug="a b"), "slug"),
    "unknown time zone": (
        initech(time_zone="Mars/Olympus_Mons"),
        "time_zone: must be an IANA time zone name such as America/New_York or UTC",
    ),
    "time zone in the wrong case": (initech(time_zone="america/new_york"), "time_zone"),
    "time zone as a path": (initech(time_zone="../../etc/passwd"), "time_zone"),
    "host's localtime": (initech(time_zone="localtime"), "time_zone: must be an IANA"),
    "time zone not a string": (initech(time_zone=5), "time_zone: must be a string"),
    "blank time zone": (initech(time_zone=" "), "time_zone: must not be blank"),
    "slug taken": (tenant("00000000-0000-0000-0000-0000000000c3", slug="acme"), "slug"),
    "unknown tenant": (user(9, tenant_id="00000000-0000-0000-0000-0000000000ff"), "unknown tenant"),
    "unknown user": (session(9, user_n=99), "user_id: unknown user"),
    "unknown scenario": (session(9, scenario_n=99), "scenario_id: unknown scenario"),
    "unknown session": (scorecard(9), "session_id: unknown session"),
    "cross-tenant user": (session(9, user_n=3), "belongs to another tenant"),
    "cross-tenant session": (scorecard(9, tenant_id=GLOBEX, session_n=2), "another tenant"),
    "id of another tenant": (user(3, tenant_id=ACME), "already exists in another tenant"),
    "second scorecard for a session": (scorecard(9, session_n=1), "already has scorecard"),
    "scorecard moved to another session": (scorecard(1, session_n=2), "cannot move"),
    "scored without scorecard": (session(9, status="scored"), "no scorecard"),
}


@pytest.mark.parametrize("case", list(BAD_LINES), ids=list(BAD_LINES))
def test_each_bad_line_is_reported_and_nothing_is_written(tmp_path, case):
    before = _existing_data(tmp_path)
    bad, expected = BAD_LINES[case]
    # The bad line sits between good ones, so "nothing written" covers the good ones too.
    good_before = user(7, full_name="Before")
    good_after = user(8, full_name="After")
    path = write_file(tmp_path, [good_before, bad, good_after])

    message = run_import_failing(path)

    assert re.search(rf"^line 2: .*{re.escape(expected)}", message, re.MULTILINE), message
    assert "line 1:" not in message and "line 3:" not in message
    assert snapshot() == before


def test_every_bad_line_is_named_up_to_fifty(tmp_path):
    records = [tenant(), *[user(n, role="boss") for n in range(1, 61)]]
    message = run_import_failing(write_file(tmp_path, records))
    assert "60 bad line(s)" in message
    assert "line 2:" in message and "line 51:" in message and "line 52:" not in message
    assert "first 50 of 60" in message
    assert all(rows == [] for rows in snapshot().values())


@pytest.mark.parametrize("batch", ["2000", "3"])  # within one batch, and across two
def test_a_scorecard_cannot_move_within_the_file(tmp_path, batch):
    """Its first session would stay scored without a scorecard (found by a contract review)."""
    records = [
        tenant(),
        user(1),
        scenario(1),
        session(1, status="scored"),
        session(2),
        scorecard(1, session_n=1),
        scorecard(1, session_n=2),
    ]
    message = run_import_failing(write_file(tmp_path, records), "--batch-size", batch)
    assert re.search(r"^line 7: .*cannot move to another session", message, re.MULTILINE), message
    assert all(rows == [] for rows in snapshot().values())


def test_reference_to_a_later_line_is_an_error(tmp_path):
    message = run_import_failing(write_file(tmp_path, [user(1), tenant()]))
    assert "line 1: tenant_id: unknown tenant" in message


def test_reference_to_an_invalid_line_names_it(tmp_path):
    message = run_import_failing(
        write_file(tmp_path, [tenant(), user(1, role="boss"), scenario(), session(1)])
    )
    assert "line 2: role" in message
    assert re.search(r"line 4: user_id: .*line 2", message), message


def test_cross_tenant_reference_within_the_file_fails(tmp_path):
    records = [tenant(ACME), tenant(GLOBEX), user(1, tenant_id=GLOBEX), scenario(1), session(1)]
    message = run_import_failing(write_file(tmp_path, records))
    assert "line 5: user_id" in message and "another tenant" in message
    assert all(rows == [] for rows in snapshot().values())


def test_scored_session_without_scorecard_fails_the_file(tmp_path):
    records = [tenant(), user(), scenario(), session(1, status="scored"), session(2)]
    message = run_import_failing(write_file(tmp_path, records))
    assert "line 4: status" in message and "no scorecard" in message
    assert all(rows == [] for rows in snapshot().values())


@pytest.mark.parametrize("batch", ["4", "7", "2000"])
@pytest.mark.parametrize("stored_first", [False, True])
def test_each_scored_session_is_looked_up_once_wherever_its_scorecard_is(
    tmp_path, batch, stored_first
):
    """Scored sessions first, their scorecards far below (or stored, or just before a line
    that re-states the session): the file imports, and each session is looked up among stored
    scorecards at most once, not once per batch it waits through (found by a review)."""
    from django.db import connection

    n = 40
    head = [tenant(), user(), scenario()]
    if stored_first:  # the scorecards already stored: the file only re-states the sessions
        run_import(
            write_file(
                tmp_path,
                [
                    *head,
                    *[session(i, status="scored") for i in range(n)],
                    *[scorecard(i) for i in range(n)],
                ],
                "first.jsonl",
            )
        )
    records = [*head, *[session(i, status="scored") for i in range(n)]]
    if not stored_first:
        records += [scorecard(i) for i in range(n)]
    # Re-stated after its scorecard: the scorecard is the line before, maybe in the same batch.
    records += [session(n), scorecard(n), session(n, status="scored")]
    lookups: list[int] = []  # ids per lookup (the importer clears connection.queries per batch)

    def spy(execute, sql, params, many, context):
        if sql.startswith('SELECT "scorecards_scorecard"."session_id" AS "session_id" FROM'):
            # SQLite binds each id; PostgreSQL one array of them (id__any_of).
            lookups.append(sum(len(p) if isinstance(p, list | tuple) else 1 for p in params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(spy):
        run_import(write_file(tmp_path, records), "--batch-size", batch)
    looked_up = sum(lookups)
    if stored_first:  # then only the lookups can find the scorecards: the spy must see them
        assert looked_up >= n
    assert looked_up <= n + 1, looked_up  # at most once each (n + 1 scored sessions)
    assert Session.unscoped.filter(status="scored").count() == n + 1


def test_blank_lines_and_bom_are_tolerated(tmp_path):
    data = b"\xef\xbb\xbf" + to_bytes(valid_file()[:1]) + b"\n   \n" + to_bytes(valid_file()[1:])
    path = tmp_path / "bom.jsonl"
    path.write_bytes(data)
    run_import(str(path))
    assert Session.unscoped.count() == 3


@pytest.mark.parametrize("fails", [False, True])
def test_the_collector_is_tuned_only_while_importing(tmp_path, fails, monkeypatch):
    seen = {}
    real_run = Importer.run

    def spy(self, lines, **kwargs):
        seen["during"] = (gc.get_threshold(), gc.get_freeze_count() > 0)
        return real_run(self, lines, **kwargs)

    monkeypatch.setattr(Importer, "run", spy)
    before = gc.get_threshold()
    records = [*valid_file()[:1], {"type": "user"}] if fails else valid_file()
    path = write_file(tmp_path, records)
    run_import_failing(path) if fails else run_import(path)
    assert seen["during"] == ((100_000, 50, 1_000), True)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_unreadable_file_is_a_clear_error(tmp_path):
    assert "cannot read" in run_import_failing(str(tmp_path / "missing.jsonl"))


def test_created_at_of_a_scenario_is_kept_on_reimport_without_it(tmp_path):
    record = scenario(1)
    del record["created_at"]
    path = write_file(tmp_path, [tenant(), record])
    run_import(path)
    first = Scenario.unscoped.get().created_at
    run_import(path)
    assert Scenario.unscoped.get().created_at == first


def test_sessions_at_the_edges_of_the_calendar_import_and_count(tmp_path):
    """The first and last days there are: rollups of those days have no day before or after."""
    first = "0001-01-01T00:00:00Z"
    last = "9999-12-31T23:59:59.999999Z"
    records = [
        tenant(),
        user(1),
        scenario(1),
        session(1, started_at=first, ended_at="0001-01-01T00:07:00Z"),
        session(2, started_at="9999-12-31T23:00:00Z", ended_at=last, duration_seconds=3599),
    ]
    run_import(write_file(tmp_path, records))
    acme = Tenant.objects.get(slug="acme")
    period = {"started_from": parse_timestamp(first), "started_to": parse_timestamp(last)}
    assert summary(tenant=acme, **period) == summary_plain(tenant=acme, **period)
    assert summary(tenant=acme, **period).sessions == 2


def test_the_summary_line_counts_in_good_english(tmp_path):
    one = run_import(write_file(tmp_path, [tenant()], "one.jsonl"))
    assert one.startswith("Imported 1 tenant from 1 line in ")
    two = run_import(write_file(tmp_path, [tenant(), user(1), user(2)], "two.jsonl"))
    assert two.startswith("Imported 1 tenant, 2 users from 3 lines in ")


# -- a tenant's time zone -------------------------------------------------------------------------


def test_a_tenant_line_sets_the_time_zone_and_token_shows_it(tmp_path, client_for):
    run_import(write_file(tmp_path, [tenant(time_zone="America/New_York"), tenant(GLOBEX)]))
    acme, globex = Tenant.objects.get(id=ACME), Tenant.objects.get(id=GLOBEX)
    assert (acme.time_zone, globex.time_zone) == ("America/New_York", "UTC")  # default UTC
    body = client_for(acme, scopes=["users:read"]).get("/api/v1/token").json()
    assert body["data"]["tenant"] == {
        "id": ACME,
        "name": "Acme Realty",
        "time_zone": "America/New_York",
    }


def test_a_tenant_line_without_a_time_zone_sets_it_back_to_utc(tmp_path):
    """Absent or null is the default, written like any field (as a user line without email
    clears it): the file says what the tenant is."""
    run_import(write_file(tmp_path, [tenant(time_zone="Europe/Berlin")], "one.jsonl"))
    run_import(write_file(tmp_path, [tenant(time_zone="Asia/Kolkata")], "two.jsonl"))
    assert Tenant.objects.get().time_zone == "Asia/Kolkata"
    run_import(write_file(tmp_path, [tenant(time_zone=None)], "three.jsonl"))
    assert Tenant.objects.get().time_zone == "UTC"
    run_import(write_file(tmp_path, [tenant(time_zone="Asia/Kolkata")], "four.jsonl"))
    run_import(write_file(tmp_path, [tenant()], "five.jsonl"))
    assert Tenant.objects.get().time_zone == "UTC"


def test_an_unknown_time_zone_names_its_line_and_writes_nothing(tmp_path):
    run_import(write_file(tmp_path, [tenant(time_zone="Europe/Berlin")], "one.jsonl"))
    before = snapshot()
    records = [
        tenant(name="Acme Homes", time_zone="Europe/Paris"),
        user(1),
        tenant(GLOBEX, time_zone="Europe/Atlantis"),
    ]
    message = run_import_failing(write_file(tmp_path, records, "two.jsonl"))
    assert re.search(r"^line 3: time_zone: must be an IANA time zone name", message, re.M)
    assert "line 1:" not in message and "line 2:" not in message
    assert snapshot() == before
    assert Tenant.objects.get().time_zone == "Europe/Berlin"


def test_a_time_zone_change_by_import_tells_the_token_caches(tmp_path):
    """Cached tokens hold their tenant: a new time zone counts as a change, like a rename
    (tests/faults/test_token_epoch.py runs the bump itself against Redis)."""
    run_import(write_file(tmp_path, [tenant()]))
    row = {"id": Tenant.objects.get().id, "slug": "acme", "name": "Acme Realty"}
    assert tenant_bulk_upsert(rows=[{**row, "time_zone": "UTC"}]) == {}
    assert tenant_bulk_upsert(rows=[{**row, "time_zone": "Pacific/Auckland"}]) == {
        row["id"]: frozenset({"time_zone"})
    }
    assert Tenant.objects.get().time_zone == "Pacific/Auckland"
    assert tenant_bulk_upsert(rows=[{**row, "time_zone": "Pacific/Auckland"}]) == {}
