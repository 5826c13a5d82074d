"""A scorecard's ``categories`` and ``callouts``: declared once, for every writer.

The importer checks each line's items with these records and admin checks a form's through
``Scorecard.clean()``, so an edit can never store what an import would refuse. They live in this
app, not in ``importing``, because the model needs them and ``importing`` sits above it.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from core.records import MAX_TEXT, Field, Record, choice, integer, items, seconds, text


class CalloutKind(models.TextChoices):
    STRENGTH = "strength", "Strength"
    IMPROVEMENT = "improvement", "Improvement"


CATEGORY = Record(
    "category",
    [
        Field("key", text(64)),
        Field("label", text()),
        Field("score", integer(0, 100)),
        Field("feedback", text(MAX_TEXT, blank=True), required=False, default=""),
    ],
)
CALLOUT = Record(
    "callout",
    [
        Field("kind", choice(CalloutKind)),
        Field("text", text(MAX_TEXT)),
        Field("time", seconds(), required=False),
    ],
)
CATEGORIES = Field("categories", items(CATEGORY), required=False, default=[])
CALLOUTS = Field("callouts", items(CALLOUT), required=False, default=[])
_ITEMS = Record("scorecard items", [CATEGORIES, CALLOUTS])


def scorecard_item_problems(record: dict[str, Any]) -> dict[str, list[str]]:
    """The import's rules for a scorecard's ``categories`` and ``callouts``: each field's
    problems, by field (for a form)."""
    return _ITEMS.problems_by_field(record)
