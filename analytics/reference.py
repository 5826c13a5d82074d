"""The breakdown by its definition (docs/api-guide.md, Answers), in plain Python over records:
what every answer of GET /analytics/breakdown must equal. The property tests hold the API to
it for random data, zones and periods; the schema's example is computed with it from the demo
file. Nothing here is fast, and nothing needs to be."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core import zones
from roleplay.models import Verdict

from .selectors import round_half_up

VERDICTS = tuple(Verdict.values)
IDS = {"user": "user_id", "scenario": "scenario_id"}


def breakdown_reference(
    sessions: Iterable[Mapping[str, Any]],
    *,
    by: tuple[str, ...],
    tz: ZoneInfo,
    started_from: datetime,
    started_to: datetime,
    user_id: Any = None,
    scenario_id: Any = None,
) -> list[dict[str, Any]]:
    """``sessions``: each with ``user_id``, ``scenario_id``, ``started_at`` (aware) and
    ``scorecard`` (None, or ``overall_score``, ``verdict``, ``categories``, ``created_at``).
    Every group, in order, ids as given."""
    unit = next((name for name in by if name in zones.UNITS), None)
    chosen = [
        s
        for s in sessions
        if started_from <= s["started_at"] <= started_to
        and (user_id is None or s["user_id"] == user_id)
        and (scenario_id is None or s["scenario_id"] == scenario_id)
    ]

    def key(session: Mapping[str, Any]) -> tuple:
        return tuple(
            session[IDS[name]]
            if name in IDS
            else zones.bucket_of(session["started_at"].astimezone(tz).date(), name)
            for name in by
        )

    groups: dict[tuple, list] = {}
    for session in chosen:
        groups.setdefault(key(session), []).append(session)
    if by == (unit,):
        first = started_from.astimezone(tz).date()
        last = started_to.astimezone(tz).date()
        for bucket in zones.buckets(first, last, unit):
            groups.setdefault((bucket,), [])

    out = []
    for group_key in sorted(groups):
        members = groups[group_key]
        cards = [s["scorecard"] for s in members if s["scorecard"] is not None]
        total = sum(card["overall_score"] for card in cards)
        categories: dict[str, list] = {}
        for card in cards:
            for item in card["categories"]:
                entry = categories.setdefault(item["key"], [0, 0, None, None])
                entry[0] += 1
                entry[1] += item["score"]
                newest = (card["created_at"], item["label"])
                if entry[2] is None or newest > (entry[2], entry[3]):
                    entry[2], entry[3] = newest
        group = {("user_id" if n == "user" else "scenario_id" if n == "scenario" else n): v
                 for n, v in zip(by, group_key, strict=True)}  # fmt: skip
        group.update(
            sessions=len(members),
            scored=len(cards),
            avg_score=round_half_up(total, len(cards)) if cards else None,
            unique_reps=len({s["user_id"] for s in members}),
            verdicts={v: sum(1 for card in cards if card["verdict"] == v) for v in VERDICTS},
            categories=[
                {"key": k, "label": e[3], "scored": e[0], "avg_score": round_half_up(e[1], e[0])}
                for k, e in sorted(categories.items())
            ],
        )
        out.append(group)
    return out
