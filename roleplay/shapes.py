"""The wire shapes of sessions, transcripts, scenarios and users (docs/api-guide.md)."""

from __future__ import annotations

from core import shapes as f

from .models import Rep, Scenario, Scorecard, Session

UPDATED_AT_HELP = (
    "When this object, as the API returns it, last changed; what `updated_since` compares "
    "(docs/api-guide.md, Keep a copy in sync)."
)

SESSION = f.Shape(
    "Session",
    f.uuid("id"),
    f.uuid("user_id"),
    f.uuid("scenario_id"),
    f.choice("status", Session.Status),
    f.timestamp("started_at", help_text="RFC 3339, UTC, `Z` suffix."),
    f.timestamp("ended_at", null=True),
    f.integer("duration_seconds", null=True, minimum=0),
    f.timestamp("created_at"),
    f.uuid(
        "scorecard_id",
        source="scorecard__id",
        null=True,
        help_text="Set exactly when status is `scored`.",
    ),
    f.timestamp("updated_at", help_text=UPDATED_AT_HELP),
)

TURN = f.Shape(
    "Turn",
    f.choice("role", ["agent", "user"], help_text="agent: the AI persona"),
    f.text("message", blank=True),
    f.number("time", minimum=0, help_text="Seconds since the session started."),
)

SESSION_DETAIL = SESSION.extend("SessionDetail", f.items("transcript", TURN))

# A listed session's transcript, only with expand=transcript (SESSION_LISTED, below).
TRANSCRIPT_EXPANSION = f.items("transcript", TURN, only_with="transcript")

SCENARIO = f.Shape(
    "Scenario",
    f.uuid("id"),
    f.text("name"),
    f.text("call_type"),
    f.choice("status", Scenario.Status),
    f.timestamp("created_at"),
    f.timestamp("updated_at", help_text=UPDATED_AT_HELP),
)

USER = f.Shape(
    "User",
    f.uuid("id"),
    f.text("full_name"),
    f.choice("role", Rep.Role),
    f.timestamp("last_session_at", null=True, column=f.COMPUTED),
    f.timestamp("updated_at", help_text=UPDATED_AT_HELP),
    f.email(
        "email",
        only_with="email",
        help_text="Only with `include=email` and the `users:email` scope.",
    ),
)


# -- schema examples from the demo data (core/examples.py) ---------------------------------------

# Users carry no times in the import format: the examples show them as imported at this instant.
DEMO_IMPORTED_AT = "2026-05-07T09:00:00Z"


def _sessions_newest_first(demo, tenant_id: str) -> list[dict]:
    sessions = [s for s in demo["session"] if s["tenant_id"] == tenant_id]
    return sorted(sessions, key=lambda s: (s["started_at"], s["id"]), reverse=True)


def _session_values(record: dict, demo) -> dict:
    cards = {c["session_id"]: c["id"] for c in demo["scorecard"]}
    created_at = record.get("created_at") or record["started_at"]
    return {
        **record,
        "created_at": created_at,
        "scorecard_id": cards.get(record["id"]),
        "updated_at": record.get("updated_at") or record.get("ended_at") or created_at,
    }


def session_page_example(demo, tenant_id: str) -> dict:
    sessions = _sessions_newest_first(demo, tenant_id)
    return {
        "ok": True,
        "data": [SESSION.from_values(_session_values(s, demo)) for s in sessions[:2]],
        "next_cursor": SESSION.by_name["started_at"].to_wire(sessions[1]["started_at"]),
    }


def scored_session_example(demo, tenant_id: str) -> dict:
    """The newest scored session: the detail example, and the scorecard example's session."""
    return next(s for s in _sessions_newest_first(demo, tenant_id) if s["status"] == "scored")


def session_example(demo, tenant_id: str) -> dict:
    scored = scored_session_example(demo, tenant_id)
    values = {**_session_values(scored, demo), "transcript": scored["transcript"][:4]}
    return {"ok": True, "data": SESSION_DETAIL.from_values(values)}


def scenario_page_example(demo, tenant_id: str) -> dict:
    scenarios = [s for s in demo["scenario"] if s["tenant_id"] == tenant_id]
    scenarios.sort(key=lambda s: (s["status"], s["name"], s["id"]))
    return {
        "ok": True,
        "data": [SCENARIO.from_values({**s, "updated_at": s["created_at"]}) for s in scenarios[:2]],
        "next_cursor": None,
    }


def scenario_example(demo, tenant_id: str) -> dict:
    page = scenario_page_example(demo, tenant_id)
    return {"ok": True, "data": page["data"][0]}


def user_example(demo, tenant_id: str) -> dict:
    page = user_page_example(demo, tenant_id)
    return {"ok": True, "data": page["data"][0]}


def user_page_example(demo, tenant_id: str) -> dict:
    users = sorted(
        (u for u in demo["user"] if u["tenant_id"] == tenant_id),
        key=lambda u: (u["full_name"], u["id"]),
    )
    latest: dict[str, str] = {}
    for s in _sessions_newest_first(demo, tenant_id):
        latest.setdefault(s["user_id"], s["started_at"])
    return {
        "ok": True,
        "data": [
            USER.from_values(
                {**u, "last_session_at": latest.get(u["id"]), "updated_at": DEMO_IMPORTED_AT}
            )
            for u in users[:2]
        ],
        "next_cursor": None,
    }


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


# GET /sessions: what expand= can inline beside each session (each sub-selected in the page's
# one query only when asked for).
SESSION_LISTED = SESSION.extend("Session", TRANSCRIPT_EXPANSION, SCORECARD_EXPANSION)


def scorecard_example(demo, tenant_id: str) -> dict:
    """The scorecard of the session the session-detail example shows (core/examples.py)."""
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
