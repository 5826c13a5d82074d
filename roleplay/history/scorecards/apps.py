from django.apps import AppConfig


class ScorecardsHistoryConfig(AppConfig):
    """Migrations only: see roleplay/history/__init__.py."""

    name = "roleplay.history.scorecards"
    label = "scorecards"
    verbose_name = "Scorecards (migration history)"
