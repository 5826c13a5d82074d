"""Django's PostgreSQL backend, with the database circuit breaker on new connections
(``ENGINE = "core.postgresql"``, set by the settings when ``DATABASE_URL`` is PostgreSQL)."""
