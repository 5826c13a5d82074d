from django.apps import AppConfig


class RoleplayConfig(AppConfig):
    name = "roleplay"
    verbose_name = "Role-play training"
    default_auto_field = "django.db.models.BigAutoField"
