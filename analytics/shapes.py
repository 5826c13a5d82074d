"""The wire shape of the analytics summary (shared/api-v1.md)."""

from __future__ import annotations

from api import shapes as f

SUMMARY = f.Shape(
    "Summary",
    f.timestamp("from"),
    f.timestamp("to"),
    f.integer("sessions", minimum=0),
    f.integer("scored", minimum=0),
    f.integer("avg_score", null=True, minimum=0, maximum=100, help_text="null when scored is 0"),
    f.integer("unique_reps", minimum=0),
)
