"""The wire shape of the analytics summary (docs/api-guide.md)."""

from __future__ import annotations

from datetime import datetime

import orjson

from core import shapes as f
from core import zones
from core.zones import UNITS
from roleplay.models import Verdict

from .breakdown import By, encode_cursor
from .reference import breakdown_reference
from .selectors import round_half_up

SUMMARY = f.Shape(
    "Summary",
    f.timestamp("from"),
    f.timestamp("to"),
    f.integer("sessions", minimum=0),
    f.integer("scored", minimum=0),
    f.integer("avg_score", null=True, minimum=0, maximum=100, help_text="null when scored is 0"),
    f.integer("unique_reps", minimum=0),
)


def summary_example(demo, tenant_id: str) -> dict:
    """The summary of the demo tenant's whole history, computed from the demo file by the
    contract's definitions (so the example cannot show what the API would never answer)."""
    sessions = [s for s in demo["session"] if s["tenant_id"] == tenant_id]
    scores = [c["overall_score"] for c in demo.get("scorecard", []) if c["tenant_id"] == tenant_id]
    started = sorted(s["started_at"] for s in sessions)
    average = round_half_up(sum(scores), len(scores)) if scores else None
    return {
        "ok": True,
        "data": SUMMARY.from_values(
            {
                "from": started[0] if started else "2026-04-06T17:00:00Z",
                "to": started[-1] if started else "2026-05-06T17:00:00Z",
                "sessions": len(sessions),
                "scored": len(scores),
                "avg_score": average,
                "unique_reps": len({s["user_id"] for s in sessions}),
            }
        ),
    }


VERDICT_COUNTS = f.Shape(
    "VerdictCounts", *(f.integer(verdict, minimum=0) for verdict in Verdict.values)
)
CATEGORY_FIGURES = f.Shape(
    "CategoryFigures",
    f.text("key"),
    f.text("label", help_text="That of the most recent scorecard carrying the key."),
    f.integer("scored", minimum=1, help_text="How many of the group's scorecards carry it."),
    f.integer("avg_score", minimum=0, maximum=100, help_text="Their mean score, halves up."),
)
GROUP = f.Shape(
    "BreakdownGroup",
    f.uuid("user_id", only_with="user", help_text="With `by=user`."),
    f.uuid("scenario_id", only_with="scenario", help_text="With `by=scenario`."),
    *(
        f.calendar_date(unit, only_with=unit, help_text=f"With `by={unit}`: its first local date.")
        for unit in UNITS
    ),
    f.integer("sessions", minimum=0),
    f.integer("scored", minimum=0),
    f.integer("avg_score", null=True, minimum=0, maximum=100, help_text="null when scored is 0"),
    f.integer("unique_reps", minimum=0),
    f.mapping("verdicts", VERDICT_COUNTS, help_text="The group's scorecards by verdict."),
    f.mappings("categories", CATEGORY_FIGURES, help_text="Every category key found, by key."),
)


# The group's keys (its optional fields) and how GROUP renders each.
_KEYS_TO_WIRE = {f.name: f.to_wire for f in GROUP.fields if f.only_with is not None}


def _render(group: dict) -> dict:
    return {
        name: (_KEYS_TO_WIRE[name](v) if name in _KEYS_TO_WIRE else v) for name, v in group.items()
    }


def render_groups(groups: list[dict | str]) -> list[dict | orjson.Fragment]:
    """``GROUP.from_values`` of each group, without its per-field walk (a page of 1,000 groups
    took 46 ms that way), for the JSON answer. A group the database rendered (its JSON text,
    analytics/breakdown.py ``rendered``) is spliced into the answer as it is; the others hold
    wire values already, but for their keys (UUIDs and dates), in GROUP's field order.
    tests/analytics/test_breakdown.py holds them all equal."""
    return [orjson.Fragment(g) if isinstance(g, str) else _render(g) for g in groups]


def group_objects(groups: list[dict | str]) -> list[dict]:
    """Each group as ``render_groups`` answers it, as an object (the CSV's rows)."""
    return [orjson.loads(g) if isinstance(g, str) else _render(g) for g in groups]


def breakdown_example(demo, tenant_id: str) -> dict:
    """``by=user,week`` over the demo tenant's whole history in UTC, computed from the demo
    file by the contract's definition (analytics/reference.py)."""
    cards = {c["session_id"]: c for c in demo.get("scorecard", []) if c["tenant_id"] == tenant_id}

    def moment(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    sessions = [
        {
            "user_id": s["user_id"],
            "scenario_id": s["scenario_id"],
            "started_at": moment(s["started_at"]),
            "scorecard": None
            if s["id"] not in cards
            else {**cards[s["id"]], "created_at": moment(cards[s["id"]]["created_at"])},
        }
        for s in demo["session"]
        if s["tenant_id"] == tenant_id
    ]
    started = sorted(s["started_at"] for s in sessions)
    groups = breakdown_reference(
        sessions, by=("user", "week"), tz=zones.zone("UTC"),
        started_from=started[0], started_to=started[-1],
    )  # fmt: skip
    return {
        "ok": True,
        "data": [GROUP.from_values(g, include=("user", "week")) for g in groups[:2]],
        "next_cursor": encode_cursor(
            By(("user", "week")), (groups[1]["user_id"], groups[1]["week"])
        )
        if len(groups) > 2
        else None,
    }
