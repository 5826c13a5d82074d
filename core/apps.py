from django.apps import AppConfig

from . import dbfunctions


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        dbfunctions.register_lookups()
