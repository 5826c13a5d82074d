"""Two imports at once, made to overlap on PostgreSQL: the second queues behind the first and
both land whole. Without the queue, overlapping files ended in a raw UniqueViolation and
disjoint files for the same tenant and days failed at the rollups."""

from __future__ import annotations

import io
import threading
import uuid

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from importing.importer import Importer
from roleplay.models import Session, TenantDay
from tests.importing import lines as L
from tests.sync.test_sync_race import SlowImport

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent imports: PostgreSQL"),
]


class SecondImport:
    """An import in its own thread that records whether it had to wait."""

    def __init__(self, records: list[dict]) -> None:
        self.records = records
        self.waited = threading.Event()
        self.result = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self.result = Importer(on_wait=self.waited.set).run(
                orjson.dumps(r) for r in self.records
            )
        finally:
            connections.close_all()

    def start(self) -> SecondImport:
        self.thread.start()
        return self


@pytest.mark.parametrize(
    "second",
    [
        # The same records and one more: ids the first import is writing.
        pytest.param([*L.valid_file(), L.session(7)], id="overlapping"),
        # Other sessions, same tenant, rep and day: the same rollup rows.
        pytest.param(
            [L.tenant(), L.user(1), L.scenario(1), L.session(8), L.session(9)], id="disjoint"
        ),
    ],
)
def test_a_second_import_waits_for_the_first_and_both_land(second):
    with SlowImport(L.valid_file()):
        other = SecondImport(second).start()
        assert other.waited.wait(10), "the second import did not queue"
        other.thread.join(0.5)
        assert other.thread.is_alive(), "the second import ran beside the first"
    other.thread.join(30)
    assert other.result is not None and other.result.committed, other.result
    sessions = {r["id"]: r for r in [*L.valid_file(), *second] if r["type"] == "session"}
    stored = set(Session.unscoped.values_list("id", flat=True))
    assert stored == {uuid.UUID(i) for i in sessions}
    # The rollups count what is stored: each import's sessions once.
    day = TenantDay.unscoped.get(tenant_id=L.ACME, day="2026-05-06")
    assert day.sessions == sum(1 for r in sessions.values() if r["tenant_id"] == L.ACME)


def test_the_command_says_it_is_waiting(tmp_path):
    path = L.write_file(tmp_path, [L.tenant(), L.user(1), L.scenario(1), L.session(8)])
    out, err = io.StringIO(), io.StringIO()
    with SlowImport(L.valid_file()):
        thread = threading.Thread(
            target=lambda: (
                call_command("import_data", path, stdout=out, stderr=err),
                connections.close_all(),
            )
        )
        thread.start()
        thread.join(1)
        assert thread.is_alive()
    thread.join(30)
    assert "Another import is running" in err.getvalue()
    assert out.getvalue().startswith("Imported ")


def test_a_database_error_outside_the_writes_is_a_reported_failure(tmp_path):
    """An operator's lock_timeout cuts the wait: a message and nothing written, no traceback."""
    path = L.write_file(tmp_path, [L.tenant(), L.user(1), L.scenario(1), L.session(8)])
    outcome: list[BaseException | None] = []

    def impatient() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '200ms'")
            call_command("import_data", path, stdout=io.StringIO(), stderr=io.StringIO())
            outcome.append(None)
        except BaseException as exc:  # handed to the test's thread
            outcome.append(exc)
        finally:
            connections.close_all()

    with SlowImport(L.valid_file()):
        thread = threading.Thread(target=impatient)
        thread.start()
        thread.join(10)
    [error] = outcome
    assert isinstance(error, CommandError), error
    assert str(error).startswith("the database refused the import; nothing was imported:")
    assert "lock timeout" in str(error)
    assert not Session.unscoped.filter(id=L.session(8)["id"]).exists()
