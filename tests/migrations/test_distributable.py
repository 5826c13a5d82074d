"""What keeps the schema from being distributed by ``tenant_id`` with Citus (issue #24), read
from the real schema after every migration, against ``KNOWN`` and the list in the operations
guide (docs/operations.md, "Beyond one primary: Citus").

Citus distributes a table by one column and then requires: every primary key, unique
constraint and unique index of it to include that column; every foreign key between two
distributed tables to include it on both sides, matched to each other; no foreign key from a
reference table (one copied to every node) to a distributed table. Foreign keys from a
distributed table to a reference table are fine.

The plan (docs/operations.md): the tenants and the API tokens are reference tables
(``REFERENCE``); every other table with a ``tenant_id`` column is tenant-owned, distributed by it.
A table without ``tenant_id`` whose rows still belong to a tenant (it points at a tenant-owned
table, or at such a table, ...) would have to be distributed too: it is listed, one item per
foreign key that makes it so. So is a reference table that points at a distributed one.

``KNOWN`` is the list as it stands: a migration that fixes an item or adds one fails this test
until ``KNOWN`` and the document say so; the document's list must be ``KNOWN``, line for line.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
from django.db import connection

from tenants.models import ApiToken, Tenant
from tests.live import ROOT

# The schema is read from PostgreSQL's catalogs; the document is checked everywhere.
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="Citus is PostgreSQL: its catalogs are read"
)

DISTRIBUTION_COLUMN = "tenant_id"
# Copied to every node: small, read by every request (a token is found by its hash before its
# tenant is known), written rarely.
REFERENCE = {Tenant._meta.db_table, ApiToken._meta.db_table}

# The document that lists them, one a line as written here: the operations guide.
DOCS = [ROOT / "docs" / "operations.md"]
ITEM = re.compile(
    r"^\w+: (primary key|unique|exclusion|foreign key|no tenant_id column|reference table|"
    r"tenant_id (is|may))",
    re.M,
)

# Kept in the order of the document's list ("What must change").
KNOWN = [
    # Primary keys: each becomes PRIMARY KEY (tenant_id, id).
    "tenants_rep: primary key (id) lacks tenant_id",
    "sessions_api_scenario: primary key (id) lacks tenant_id",
    "sessions_api_session: primary key (id) lacks tenant_id",
    "scorecards_scorecard: primary key (id) lacks tenant_id",
    "tenants_deletion: primary key (id) lacks tenant_id",
    "analytics_tenantday: primary key (id) lacks tenant_id",
    "analytics_scenarioday: primary key (id) lacks tenant_id",
    "analytics_repspan: primary key (id) lacks tenant_id",
    "analytics_repbucket: primary key (id) lacks tenant_id",
    "webhooks_webhookendpoint: primary key (id) lacks tenant_id",
    "webhooks_webhookevent: primary key (id) lacks tenant_id",
    # Unique constraints: tenant_id added.
    "scorecards_scorecard: unique (session_id) lacks tenant_id",
    "webhooks_webhookevent: unique (txn, object, object_id) lacks tenant_id",
    # Foreign keys: (tenant_id, x_id) -> target (tenant_id, id).
    "analytics_scenarioday: foreign key (scenario_id) -> sessions_api_scenario (id)"
    " lacks tenant_id on both sides",
    "analytics_repspan: foreign key (user_id) -> tenants_rep (id) lacks tenant_id on both sides",
    "analytics_repbucket: foreign key (user_id) -> tenants_rep (id) lacks tenant_id on both sides",
    # Tables whose rows belong to a tenant that they do not name: tenant_id added.
    "webhooks_webhookdelivery: no tenant_id column, but foreign key (endpoint_id)"
    " -> webhooks_webhookendpoint (id)",
    "webhooks_webhookdelivery: no tenant_id column, but foreign key (event_id)"
    " -> webhooks_webhookevent (id)",
    "webhooks_webhookattempt: no tenant_id column, but foreign key (delivery_id)"
    " -> webhooks_webhookdelivery (id)",
    "webhooks_webhookattempt: no tenant_id column, but foreign key (endpoint_id)"
    " -> webhooks_webhookendpoint (id)",
]

TABLES = """
SELECT c.oid, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
"""

COLUMNS = """
SELECT a.attrelid, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
"""

# Primary keys, unique and exclusion constraints, foreign keys.
CONSTRAINTS = """
SELECT con.conname, con.contype, con.conrelid, con.conkey, con.confrelid, con.confkey,
       con.conindid
FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND con.contype IN ('p', 'u', 'x', 'f')
"""

# Unique indexes; those behind a constraint are skipped where they are read.
UNIQUE_INDEXES = """
SELECT i.indexrelid, ic.relname, i.indrelid, i.indkey::int2[], pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname = current_schema() AND i.indisunique
"""


def not_distributable() -> list[str]:
    """Every reason the current schema cannot be distributed by tenant_id, one string each."""
    with connection.cursor() as cursor:
        cursor.execute(TABLES)
        tables = dict(cursor.fetchall())
        cursor.execute(COLUMNS)
        columns: dict[int, dict[int, str]] = defaultdict(dict)
        kinds: dict[tuple[int, str], tuple[str, bool]] = {}
        for rel, num, name, type_, not_null in cursor.fetchall():
            columns[rel][num] = name
            kinds[rel, name] = (type_, not_null)
        cursor.execute(CONSTRAINTS)
        constraints = cursor.fetchall()
        cursor.execute(UNIQUE_INDEXES)
        unique_indexes = cursor.fetchall()

    def names(rel: int, nums) -> list[str]:
        # 0 in an index's key is an expression: shown as such.
        return [columns[rel].get(num, "(expression)") for num in nums or []]

    reference = {oid for oid, name in tables.items() if name in REFERENCE}
    owned = {
        oid
        for oid in tables
        if DISTRIBUTION_COLUMN in columns[oid].values() and oid not in reference
    }
    foreign_keys = [c for c in constraints if c[1] == "f"]

    # Rows that belong to a tenant without saying which: a table pointing at a tenant-owned
    # one, or at such a table, to any depth. Pointing at a reference table does not count.
    children: set[int] = set()
    grew = True
    while grew:
        grew = False
        for _name, _type, rel, _key, target, _fkey, _index in foreign_keys:
            if rel not in owned | children | reference and target in owned | children:
                children.add(rel)
                grew = True

    tenant_key = kinds[
        next(oid for oid, name in tables.items() if name == Tenant._meta.db_table), "id"
    ][0]
    found = []
    for oid in sorted(owned, key=tables.get):
        table = tables[oid]
        # Co-located tables need one type of distribution column, and Citus refuses a NULL in it.
        type_, not_null = kinds[oid, DISTRIBUTION_COLUMN]
        if type_ != tenant_key:
            found.append(f"{table}: tenant_id is {type_}, the tenants' id {tenant_key}")
        if not not_null:
            found.append(f"{table}: tenant_id may be NULL")
        backing = set()
        for _name, kind, rel, key, _target, _fkey, index in constraints:
            if rel != oid or kind == "f":
                continue
            backing.add(index)
            cols = names(oid, key)
            if DISTRIBUTION_COLUMN not in cols:
                what = {"p": "primary key", "u": "unique", "x": "exclusion constraint"}[kind]
                found.append(f"{table}: {what} ({', '.join(cols)}) lacks tenant_id")
        for index, name, rel, key, definition in unique_indexes:
            if rel != oid or index in backing:
                continue
            if DISTRIBUTION_COLUMN not in names(oid, key):
                found.append(f"{table}: unique index {name} lacks tenant_id: {definition}")
        for _name, _type, rel, key, target, fkey, _index in foreign_keys:
            if rel != oid or target in reference:
                continue
            pairs = list(zip(names(oid, key), names(target, fkey), strict=True))
            fk = (
                f"foreign key ({', '.join(a for a, _ in pairs)}) -> "
                f"{tables[target]} ({', '.join(b for _, b in pairs)})"
            )
            if target in children:
                found.append(f"{table}: {fk}: {tables[target]} has no tenant_id")
            elif target not in owned:  # a local table: Django's, procrastinate's
                found.append(f"{table}: {fk}: {tables[target]} is a local table")
            elif (DISTRIBUTION_COLUMN, DISTRIBUTION_COLUMN) not in pairs:
                found.append(f"{table}: {fk} lacks tenant_id on both sides")

    for _name, _type, rel, key, target, fkey, _index in foreign_keys:
        if rel in owned or target not in owned | children:
            continue
        fk = (
            f"foreign key ({', '.join(names(rel, key))}) -> "
            f"{tables[target]} ({', '.join(names(target, fkey))})"
        )
        if rel in children:
            found.append(f"{tables[rel]}: no tenant_id column, but {fk}")
        else:  # by the closure above, only a reference table is left
            found.append(f"{tables[rel]}: reference table, but {fk}")
    return sorted(found)


@on_postgresql
@pytest.mark.django_db
def test_what_keeps_the_schema_from_distribution_by_tenant_is_the_known_list():
    found = not_distributable()
    assert found == sorted(KNOWN), (
        "The schema's obstacles to distribution by tenant_id changed: update KNOWN here and "
        "the list in docs/operations.md.\n"
        f"new: {sorted(set(found) - set(KNOWN))}\ngone: {sorted(set(KNOWN) - set(found))}"
    )


def test_the_document_lists_exactly_the_known_items():
    text = "\n".join(doc.read_text() for doc in DOCS if doc.exists())
    listed = [line for line in text.splitlines() if ITEM.match(line)]
    assert sorted(listed) == sorted(KNOWN)


PROBE = """
CREATE TABLE citus_probe_parent (
    id uuid PRIMARY KEY,
    tenant_id uuid REFERENCES tenants_tenant (id),
    code text UNIQUE,
    other_id uuid,
    rep_id uuid,
    owner_id integer REFERENCES auth_user (id),
    delivery_id bigint REFERENCES webhooks_webhookdelivery (id),
    UNIQUE (tenant_id, code),
    FOREIGN KEY (other_id, tenant_id) REFERENCES tenants_rep (tenant_id, id),
    FOREIGN KEY (tenant_id, rep_id) REFERENCES tenants_rep (tenant_id, id)
);
CREATE UNIQUE INDEX citus_probe_code_idx ON citus_probe_parent (lower(code));
CREATE TABLE citus_probe_child (
    id bigint PRIMARY KEY, parent_id uuid REFERENCES citus_probe_parent (id)
);
CREATE TABLE citus_probe_grandchild (
    id bigint PRIMARY KEY, child_id bigint REFERENCES citus_probe_child (id)
);
CREATE TABLE citus_probe_typed (tenant_id text PRIMARY KEY);
ALTER TABLE tenants_tenant ADD COLUMN probe_id uuid REFERENCES citus_probe_parent (id);
"""


@on_postgresql
@pytest.mark.django_db
def test_the_check_sees_each_kind_of_obstacle_and_each_fix():
    """Not the schema: the check itself. Tables made in the test's transaction (rolled back)
    add one obstacle of each kind; a primary key set right removes its item."""
    with connection.cursor() as cursor:
        cursor.execute(PROBE)
        cursor.execute(
            "SELECT conname FROM pg_constraint "
            "WHERE conrelid = 'analytics_tenantday'::regclass AND contype = 'p'"
        )
        (primary_key,) = cursor.fetchone()
        cursor.execute(
            f"ALTER TABLE analytics_tenantday DROP CONSTRAINT {primary_key}, "
            "ADD PRIMARY KEY (tenant_id, id)"
        )
        cursor.execute("SELECT current_schema()")
        (schema,) = cursor.fetchone()
    added = {
        "citus_probe_parent: tenant_id may be NULL",
        "citus_probe_parent: primary key (id) lacks tenant_id",
        "citus_probe_parent: unique (code) lacks tenant_id",
        "citus_probe_parent: unique index citus_probe_code_idx lacks tenant_id: CREATE UNIQUE "
        f"INDEX citus_probe_code_idx ON {schema}.citus_probe_parent USING btree (lower(code))",
        "citus_probe_parent: foreign key (other_id, tenant_id) -> tenants_rep (tenant_id, id)"
        " lacks tenant_id on both sides",
        "citus_probe_parent: foreign key (owner_id) -> auth_user (id): auth_user is a local table",
        "citus_probe_parent: foreign key (delivery_id) -> webhooks_webhookdelivery (id):"
        " webhooks_webhookdelivery has no tenant_id",
        "citus_probe_child: no tenant_id column, but foreign key (parent_id)"
        " -> citus_probe_parent (id)",
        "citus_probe_grandchild: no tenant_id column, but foreign key (child_id)"
        " -> citus_probe_child (id)",
        "citus_probe_typed: tenant_id is text, the tenants' id uuid",
        "tenants_tenant: reference table, but foreign key (probe_id) -> citus_probe_parent (id)",
    }
    fixed = {"analytics_tenantday: primary key (id) lacks tenant_id"}
    assert not_distributable() == sorted(set(KNOWN) - fixed | added)
