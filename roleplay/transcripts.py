"""A session's transcript turns: who may speak, and the rules each turn follows.

Turns are stored in ``Session.transcript`` (JSON) rather than as rows, so their roles are
declared here, beside the rules the importer checks them with, not on a model.
"""

from django.db import models

from core.records import MAX_TEXT, Field, Record, choice, seconds, text


class TurnRole(models.TextChoices):
    AGENT = "agent", "Agent (the role-played prospect)"
    USER = "user", "User (the rep)"


TURN = Record(
    "turn",
    [
        Field("role", choice(TurnRole)),
        Field("message", text(MAX_TEXT, blank=True)),
        Field("time", seconds()),
    ],
)
