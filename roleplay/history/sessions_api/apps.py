from django.apps import AppConfig


class SessionsApiHistoryConfig(AppConfig):
    """Migrations only: see roleplay/history/__init__.py."""

    name = "roleplay.history.sessions_api"
    label = "sessions_api"
    verbose_name = "Sessions (migration history)"
