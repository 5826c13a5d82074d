"""Django's PostgreSQL backend with two hooks into core/dbguard.py, for requests only: a new
connection goes through the database's circuit breaker (refused at once while it is open, and
counted when it fails to open), and so does the health check of a kept connection
(``DATABASE_CONN_HEALTH_CHECKS``), under the same deadline as a query. Outside requests
(commands, ``/readyz``'s own checks) it is Django's backend as is."""

from __future__ import annotations

from django.db.backends.postgresql import base

from .. import dbguard


class DatabaseWrapper(base.DatabaseWrapper):
    def ensure_connection(self):
        if self.connection is None:
            dbguard.guarded_connect(super().ensure_connection, self.alias)

    def close_if_health_check_failed(self):
        if self.connection is not None and self.health_check_enabled and not self.health_check_done:
            dbguard.guarded_health_check(self, super().close_if_health_check_failed)
