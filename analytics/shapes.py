"""The wire shape of the analytics summary (docs/api-guide.md)."""

from __future__ import annotations

from core import shapes as f

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
