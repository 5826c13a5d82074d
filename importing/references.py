"""What a valid line may point at, checked once per batch against one view of the file so far
and the stored rows.

A record may point only at records on earlier lines or already stored, and only of its own
tenant; an id belongs to one tenant, a slug to one tenant, a session has at most one scorecard
and a scorecard never moves to another session; a scored session has a scorecard, in the file
or stored. Each rule is written once (``References._problems``), against ``View``, which answers
"who owns id X", "which scorecard does session S have", "which session is scorecard C for"
from the rows accepted earlier in this batch first and then from the database (loaded for the
whole batch in a few ``id = ANY(...)`` queries, ``Stored.load``). A fact from the batch names
its line in the message.

Rows of earlier batches are stored by the time a batch is checked (the pipeline waits for the
previous write), so "earlier in the file" is "earlier in this batch, or stored". What outlives a
batch is small: the file's tenant slugs, the ids of rejected lines (bounded; only for better
messages) and the scored sessions still waiting for their scorecard.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from roleplay.models import Rep, Scenario, Scorecard, Session
from tenants.models import Tenant

MODELS = {
    "tenant": Tenant,
    "user": Rep,
    "scenario": Scenario,
    "session": Session,
    "scorecard": Scorecard,
}
# field -> kind of the record it must point at (besides tenant_id, which every non-tenant has).
REFERENCES = {
    "tenant": {},
    "user": {"tenant_id": "tenant"},
    "scenario": {"tenant_id": "tenant"},
    "session": {"tenant_id": "tenant", "user_id": "user", "scenario_id": "scenario"},
    "scorecard": {"tenant_id": "tenant", "session_id": "session"},
}
# Remembering which ids were rejected only improves messages; keep it bounded.
MAX_REMEMBERED_REJECTIONS = 10_000
QUERY_CHUNK = 900


@dataclass
class Pending:
    """A line that passed validation, waiting in the batch for its references to be checked."""

    line: int
    kind: str
    row: dict[str, Any]


def owner_of(kind: str, row: dict[str, Any]) -> uuid.UUID:
    return row["id"] if kind == "tenant" else row["tenant_id"]


def _chunks(values: list[Any], size: int = QUERY_CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class Stored:
    """What the database holds about one batch's ids, slugs and scorecards."""

    owners: dict[str, dict[uuid.UUID, uuid.UUID]] = field(default_factory=dict)
    slug_owner: dict[str, uuid.UUID] = field(default_factory=dict)
    card_of_session: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    session_of_card: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)

    @classmethod
    def load(cls, batch: list[Pending]) -> Stored:
        wanted: dict[str, set[uuid.UUID]] = defaultdict(set)
        earlier: set[tuple[str, uuid.UUID]] = set()
        for pending in batch:
            for field_name, target in REFERENCES[pending.kind].items():
                # A row on an earlier line of the batch answers for its id, accepted or not.
                if (target, pending.row[field_name]) not in earlier:
                    wanted[target].add(pending.row[field_name])
            wanted[pending.kind].add(pending.row["id"])
            earlier.add((pending.kind, pending.row["id"]))
        stored = cls()
        for kind, ids in wanted.items():
            model = MODELS[kind]
            owner_column = "id" if kind == "tenant" else "tenant_id"
            stored.owners[kind] = {}
            for chunk in _chunks(list(ids)):
                stored.owners[kind].update(
                    model._base_manager.filter(id__any_of=chunk).values_list("id", owner_column)
                )
        slugs = [p.row["slug"] for p in batch if p.kind == "tenant"]
        stored.slug_owner = dict(Tenant.objects.filter(slug__in=slugs).values_list("slug", "id"))
        cards = [p.row for p in batch if p.kind == "scorecard"]
        for chunk in _chunks([c["session_id"] for c in cards]):
            stored.card_of_session.update(
                Scorecard.unscoped.filter(session_id__any_of=chunk).values_list("session_id", "id")
            )
        for chunk in _chunks([c["id"] for c in cards]):
            stored.session_of_card.update(
                Scorecard.unscoped.filter(id__any_of=chunk).values_list("id", "session_id")
            )
        return stored


# A fact and where it comes from: the line of this batch that stated it, or None if stored.
Fact = tuple[uuid.UUID, int | None]


class View:
    """The rows accepted so far in this batch, over the stored ones."""

    def __init__(self, stored: Stored) -> None:
        self.stored = stored
        self.owners: dict[str, dict[uuid.UUID, tuple[uuid.UUID, int]]] = defaultdict(dict)
        self.cards: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}  # session -> scorecard
        self.sessions: dict[uuid.UUID, tuple[uuid.UUID, int]] = {}  # scorecard -> session

    def owner(self, kind: str, record_id: uuid.UUID) -> Fact | None:
        """The tenant the id belongs to."""
        if record_id in self.owners[kind]:
            return self.owners[kind][record_id]
        stored = self.stored.owners.get(kind, {}).get(record_id)
        return None if stored is None else (stored, None)

    def card_of_session(self, session_id: uuid.UUID) -> Fact | None:
        if session_id in self.cards:
            return self.cards[session_id]
        stored = self.stored.card_of_session.get(session_id)
        return None if stored is None else (stored, None)

    def session_of_card(self, card_id: uuid.UUID) -> Fact | None:
        if card_id in self.sessions:
            return self.sessions[card_id]
        stored = self.stored.session_of_card.get(card_id)
        return None if stored is None else (stored, None)

    def accept(self, pending: Pending) -> None:
        row = pending.row
        self.owners[pending.kind][row["id"]] = (owner_of(pending.kind, row), pending.line)
        if pending.kind == "scorecard":
            self.cards[row["session_id"]] = (row["id"], pending.line)
            self.sessions.setdefault(row["id"], (row["session_id"], pending.line))


class References:
    """The reference rules, and what they remember across the batches of one file."""

    def __init__(self) -> None:
        self.slugs: dict[str, uuid.UUID] = {}  # across the file: tenants are few
        self.rejected: dict[tuple[str, uuid.UUID], int] = {}
        self._batch_rejected: dict[tuple[str, uuid.UUID], int] = {}
        # Scored sessions whose scorecard has not been seen yet: session id -> line. Those not
        # yet looked up among stored scorecards are also in _unchecked_scored.
        self._awaiting_scorecard: dict[uuid.UUID, int] = {}
        self._unchecked_scored: list[uuid.UUID] = []

    def remember_rejected(self, kind: str, record_id: uuid.UUID, line: int) -> None:
        self._batch_rejected[(kind, record_id)] = line
        if len(self.rejected) < MAX_REMEMBERED_REJECTIONS:
            self.rejected[(kind, record_id)] = line

    def forget(self, kind: str, record_id: uuid.UUID) -> None:
        """The record was deleted (a delete line): a scored session no longer waits."""
        if kind == "session":
            self._awaiting_scorecard.pop(record_id, None)

    def check(
        self, batch: list[Pending], reject: Callable[[Pending, str], None]
    ) -> tuple[list[Pending], Stored]:
        """The lines of the batch whose references hold, in line order (so a row's references
        come first), and what was stored before the batch; ``reject`` is called with each
        other line and its problems."""
        view = View(Stored.load(batch))
        accepted: list[Pending] = []
        for pending in batch:
            problems = self._problems(view, pending)
            if problems:
                reject(pending, "; ".join(problems))
                if pending.kind == "session":
                    self._awaiting_scorecard.pop(pending.row["id"], None)
                continue
            accepted.append(pending)
            view.accept(pending)
            self._note_scorecards(view, pending)
        self._batch_rejected.clear()
        self._look_up_awaiting()
        return accepted, view.stored

    def _problems(self, view: View, pending: Pending) -> list[str]:
        kind, row = pending.kind, pending.row
        owner = owner_of(kind, row)
        problems: list[str] = []

        # An id belongs to one tenant.
        known = view.owner(kind, row["id"])
        if known is not None and known[0] != owner:
            if known[1] is not None:
                problems.append(f"id: {row['id']} is used on line {known[1]} by another tenant")
            else:
                problems.append(f"id: {kind} {row['id']} already exists in another tenant")

        # A slug belongs to one tenant.
        if kind == "tenant":
            claimed_by = self.slugs.get(row["slug"])
            if claimed_by is not None:
                if claimed_by != row["id"]:
                    problems.append(f"slug: {row['slug']!r} is already used by tenant {claimed_by}")
            elif view.stored.slug_owner.get(row["slug"], row["id"]) != row["id"]:
                problems.append(f"slug: {row['slug']!r} is already used by another tenant")

        # What it points at is on an earlier line or stored, and of its own tenant.
        for field_name, target in REFERENCES[kind].items():
            target_id = row[field_name]
            in_batch = view.owners[target].get(target_id)
            rejected_on = self._batch_rejected.get((target, target_id)) or self.rejected.get(
                (target, target_id)
            )
            if in_batch is None and rejected_on is not None:
                problems.append(
                    f"{field_name}: {target} {target_id} (line {rejected_on}) is invalid"
                )
                continue
            target_owner = view.owner(target, target_id)
            if target_owner is None:
                problems.append(f"{field_name}: unknown {target} {target_id}")
            elif target_owner[0] != owner:
                problems.append(f"{field_name}: {target} {target_id} belongs to another tenant")

        if kind == "scorecard":
            # A session has one scorecard.
            other = view.card_of_session(row["session_id"])
            if other is not None and other[0] != row["id"]:
                where = f" (line {other[1]})" if other[1] is not None else ""
                problems.append(
                    f"session_id: session {row['session_id']} already has scorecard {other[0]}"
                    + where
                )
            # A scorecard never moves: its first session would stay scored without one.
            first = view.session_of_card(row["id"])
            if first is not None and first[0] != row["session_id"]:
                if first[1] is not None:
                    problems.append(
                        f"session_id: scorecard {row['id']} is for session {first[0]} on line "
                        f"{first[1]}; a scorecard cannot move to another session"
                    )
                else:
                    problems.append(
                        f"session_id: scorecard {row['id']} belongs to session {first[0]}; "
                        "a scorecard cannot move to another session"
                    )
        return problems

    # -- a scored session has a scorecard ------------------------------------------------------

    def _note_scorecards(self, view: View, pending: Pending) -> None:
        row = pending.row
        if pending.kind == "session" and row["status"] == Session.Status.SCORED:
            if row["id"] not in self._awaiting_scorecard and row["id"] not in view.cards:
                self._awaiting_scorecard[row["id"]] = pending.line
                self._unchecked_scored.append(row["id"])
        elif pending.kind == "scorecard":
            self._awaiting_scorecard.pop(row["session_id"], None)

    def _look_up_awaiting(self) -> None:
        """Each scored session still waiting is looked up among stored scorecards once, when
        its batch is checked (the file's earlier batches are stored by then). A scorecard
        earlier in its batch is known from the view; one on a later line settles it when that
        line is accepted. So a file with its scorecards far below its sessions costs one lookup
        per session, not one per batch."""
        ids = [i for i in self._unchecked_scored if i in self._awaiting_scorecard]
        self._unchecked_scored.clear()
        for chunk in _chunks(ids):
            for session_id in Scorecard.unscoped.filter(session_id__any_of=chunk).values_list(
                "session_id", flat=True
            ):
                self._awaiting_scorecard.pop(session_id, None)

    def scored_without_scorecard(self) -> list[tuple[uuid.UUID, int]]:
        """At the end of the file: the scored sessions no scorecard followed, with their line."""
        self._look_up_awaiting()
        return list(self._awaiting_scorecard.items())
