"""A RepBucket holds its categories (one JSON list per bucket, and the same as the breakdown
shows them: roleplay/models.py) instead of RepBucketCategory's rows (about five per bucket). The rollups are then rebuilt for every tenant
by the code that keeps them: also those of a database made before 0003 (whose fill, which
called that code, now does nothing)."""

from django.db import migrations, models


def fill(apps, schema_editor):
    from roleplay.rollups import recompute_tenant

    for tenant_id in apps.get_model("tenants", "Tenant").objects.values_list("id", flat=True):
        recompute_tenant(tenant_id)


class Migration(migrations.Migration):
    dependencies = [
        ("roleplay", "0003_breakdown_rollups"),
    ]

    operations = [
        migrations.AddField(
            model_name="repbucket",
            name="categories",
            field=models.JSONField(default=list),
        ),
        migrations.AddField(
            model_name="repbucket",
            name="categories_text",
            field=models.TextField(default="[]"),
        ),
        migrations.DeleteModel(
            name="RepBucketCategory",
        ),
        # Last: PostgreSQL alters no table that this transaction's rows have deferred checks on.
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
