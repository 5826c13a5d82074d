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


def drop_implied_fk(table: str, column: str, target: str) -> PostgresOnlySQL:
    """Drops Django's single-column foreign key ``table.column -> target.id`` where a
    same-tenant key already guarantees it (every (tenant_id, column) names a row of the target,
    and the target's own tenant key a tenant).

    Django's keys are DEFERRABLE INITIALLY DEFERRED: PostgreSQL queues a check per written row
    and runs them all at COMMIT, which was 25 s (7%) of a 1.7M-session import, checking again
    what the same-tenant keys had checked row by row.
    """
    return PostgresOnlySQL(
        sql=f"""
        DO $$
        DECLARE name text;
        BEGIN
            FOR name IN
                SELECT c.conname FROM pg_constraint c
                JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
                WHERE c.conrelid = '{table}'::regclass AND c.contype = 'f'
                  AND cardinality(c.conkey) = 1 AND a.attname = '{column}'
            LOOP
                EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', name);
            END LOOP;
        END $$;
        """,  # noqa: S608 - the identifiers are our own, written in migrations
        reverse_sql=(
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fk FOREIGN KEY ({column}) "
            f"REFERENCES {target} (id) DEFERRABLE INITIALLY DEFERRED"
        ),
    )
