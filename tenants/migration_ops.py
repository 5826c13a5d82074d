from django.db import migrations


class PostgresOnlySQL(migrations.RunSQL):
    """SQL that only PostgreSQL runs: the constraints SQLite cannot add to an existing table.

    On SQLite the importer's validation is the guard; on PostgreSQL the database is.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def same_tenant_fk(table: str, column: str, target: str) -> PostgresOnlySQL:
    """A composite foreign key (tenant_id, column) -> target(tenant_id, id)."""
    name = f"{table}_{column}_same_tenant_fk"
    return PostgresOnlySQL(
        sql=(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (tenant_id, {column}) "
            f"REFERENCES {target} (tenant_id, id)"
        ),
        reverse_sql=f"ALTER TABLE {table} DROP CONSTRAINT {name}",
    )
