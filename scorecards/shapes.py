"""The wire shape of a scorecard (docs/api-guide.md)."""

from __future__ import annotations

from api import shapes as f
from sessions_api.shapes import UPDATED_AT_HELP, scored_session_example

from .models import Scorecard

CATEGORY = f.Shape(
    "Category",
    f.text("key"),
    f.text("label"),
    f.integer("score", minimum=0, maximum=100),
    f.text("feedback", blank=True),
)

CALLOUT = f.Shape(
    "Callout",
    f.choice("kind", ["strength", "improvement"]),
    f.text("text"),
    f.number("time", null=True, minimum=0),
)

SCORECARD = f.Shape(
    "Scorecard",
    f.uuid("id"),
    f.uuid("session_id"),
    f.uuid("user_id", source="session__user_id"),
    f.uuid("scenario_id", source="session__scenario_id"),
    f.integer("overall_score", minimum=0, maximum=100),
    f.choice("verdict", Scorecard.Verdict),
    f.text("headline"),
    f.items("categories", CATEGORY),
    f.items("callouts", CALLOUT),
    f.timestamp("created_at"),
    f.timestamp("updated_at", help_text=UPDATED_AT_HELP),
)

# GET /sessions?expand=scorecard: each session's scorecard, or null, from the same query.
SCORECARD_EXPANSION = f.embedded(
    "scorecard",
    SCORECARD,
    via="scorecard",
    only_with="scorecard",
    help_text="With `expand=scorecard` (needs `scorecards:read`): the session's scorecard, "
    "null when it has none.",
)


def scorecard_example(demo, tenant_id: str) -> dict:
    """The scorecard of the session the session-detail example shows (api/examples.py)."""
    session = scored_session_example(demo, tenant_id)
    card = next(c for c in demo["scorecard"] if c["session_id"] == session["id"])
    values = {
        **card,
        "user_id": session["user_id"],
        "scenario_id": session["scenario_id"],
        "updated_at": card.get("created_at") or session.get("ended_at") or session["started_at"],
    }
    return {"ok": True, "data": SCORECARD.from_values(values)}


def scorecard_page_example(demo, tenant_id: str) -> dict:
    one = scorecard_example(demo, tenant_id)["data"]
    return {"ok": True, "data": [one], "next_cursor": None}
