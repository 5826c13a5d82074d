from django.db import migrations

# (old app label, model) -> new app label: the models moved by roleplay 0001 and sync 0001.
MOVED = {
    ("tenants", "rep"): "roleplay",
    ("sessions_api", "scenario"): "roleplay",
    ("sessions_api", "session"): "roleplay",
    ("sessions_api", "tenantday"): "roleplay",
    ("sessions_api", "scenarioday"): "roleplay",
    ("sessions_api", "repspan"): "roleplay",
    ("scorecards", "scorecard"): "roleplay",
    ("tenants", "deletion"): "sync",
}


def forwards(apps, schema_editor):
    """The moved models keep their content types, relabelled: admin's history of each row and
    the permissions granted on them follow the model instead of pointing at a label that is
    gone. Where the new label already has one (a database migrated partly before), the old one
    is deleted with what hangs on it, as Django's remove_stale_contenttypes would."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for (old_label, model), new_label in MOVED.items():
        old = ContentType.objects.using(db).filter(app_label=old_label, model=model).first()
        if old is None:
            continue
        if ContentType.objects.using(db).filter(app_label=new_label, model=model).exists():
            old.delete()
        else:
            old.app_label = new_label
            old.save(update_fields=["app_label"])


def backwards(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for (old_label, model), new_label in MOVED.items():
        ContentType.objects.using(db).filter(app_label=new_label, model=model).update(
            app_label=old_label
        )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("roleplay", "0001_adopt_models"),
        ("sync", "0001_adopt_deletions"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
