import pytest
from django.db import connection

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="enforced by PostgreSQL-only constraints"
)
