"""The sync guarantee under concurrent writers, made to happen on PostgreSQL: a slow import
stamps its rows, a quick write commits after it with a later stamp, and a sync reads in
between. A timestamp per row (or per transaction start) would hand the client the quick
write's later stamp first, and its next ``updated_since`` would skip the import's rows for
good; the horizon (sync/clock.py) holds the quick write back until the import has ended."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest
from django.db import connection, connections

from importing.importer import Importer
from roleplay.models import Scorecard, Session
from roleplay.services import session_delete, session_upsert
from sync.models import Deletion
from tenants.models import Tenant
from tests.importing import lines as L
from tests.sync.test_sync import EPOCH, _deletions, _sync

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the race of concurrent writers: PostgreSQL"
    ),
]


class SlowImport:
    """An import in its own thread and transaction that writes its first lines, then waits
    (still open, its rows stamped) until released."""

    def __init__(self, first: list[dict]) -> None:
        self.first = first
        self.paused = threading.Event()
        self.release = threading.Event()
        self.result = None
        self.thread = threading.Thread(target=self._run)

    def _lines(self) -> Iterator[bytes]:
        yield from (orjson.dumps(r) for r in self.first)
        # A line more (unchanged, so it writes nothing): the importer waits for the previous
        # batch's write before checking it.
        yield orjson.dumps(L.tenant())
        self.paused.set()
        assert self.release.wait(30)

    def _run(self) -> None:
        try:
            self.result = Importer(batch_size=1).run(self._lines())
        finally:
            connections.close_all()

    def __enter__(self) -> SlowImport:
        self.thread.start()
        assert self.paused.wait(30)
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.thread.join(30)
        assert self.result is not None and self.result.committed, self.result


@pytest.fixture
def acme(tmp_path, client_for):
    # Session 5: another rep and day than the import touches, so the two writers share no
    # rollup row (a rollup row both rewrite would make the quick one wait for the import).
    quick = L.session(5, user_n=2, started_at="2026-04-01T10:00:00Z", ended_at=None)
    L.run_import(L.write_file(tmp_path, [*L.valid_file(), quick], "first.jsonl"))
    return client_for(Tenant.objects.get(id=L.ACME))


def test_a_write_committed_while_an_import_runs_is_held_back_never_lost(acme):
    since = max(i["updated_at"] for i in _sync(acme, "sessions", EPOCH))
    session_2, session_5 = L.session(2)["id"], L.session(5)["id"]

    with SlowImport([L.session(2, status="abandoned")]):
        # The quick write: an admin edit, committed while the import is still open.
        quick = Session.unscoped.get(id=session_5)
        quick.status = Session.Status.FAILED
        session_upsert(session=quick)
        middle = _sync(acme, "sessions", since)
        # Either may come as it was before (stamped exactly at `since`: inclusive), not changed.
        seen = {i["id"]: i["status"] for i in middle}
        assert seen.get(session_2) != "abandoned"  # not committed yet
        assert seen.get(session_5) != "failed"  # committed, but held back
        since = max([since, *(i["updated_at"] for i in middle)])

    after = {i["id"]: i for i in _sync(acme, "sessions", since)}
    assert after[session_2]["status"] == "abandoned"
    assert after[session_5]["status"] == "failed"
    # The race was real: the import's stamp is older than the quick write's, which committed
    # first. Served without the horizon, the quick write would have moved `since` past it.
    stamps = dict(Session.unscoped.values_list("id", "updated_at"))
    assert stamps[Session.unscoped.get(id=session_2).pk] < stamps[quick.pk]


def test_a_deletion_committed_while_an_import_runs_is_held_back_never_lost(acme):
    card = L.scorecard(1)["id"]
    delete_card = {"type": "delete", "object": "scorecard", "id": card, "tenant_id": L.ACME}

    with SlowImport([delete_card]):
        session_delete(session=Session.unscoped.get(id=L.session(5)["id"]))
        middle = _deletions(acme)
        assert middle == []  # the import's deletion is uncommitted; the quick one held back

    seen = {(d["object"], d["id"]) for d in _deletions(acme)}
    assert seen == {("scorecard", card), ("session", L.session(5)["id"])}
    stamps = dict(Deletion.unscoped.values_list("object", "deleted_at"))
    assert stamps["scorecard"] < stamps["session"]
    assert not Scorecard.unscoped.filter(id=card).exists()
