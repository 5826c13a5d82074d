import pytest
from django.db import connection
from hypothesis import HealthCheck, settings

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="enforced by PostgreSQL-only constraints"
)


def db_property(max_examples: int) -> settings:
    """Hypothesis settings for a property test that uses the database through pytest fixtures:
    the fixtures live for the whole test (not per example, which is what the first suppressed
    check warns of), and an example's queries take longer than hypothesis's default deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
