#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    # Commands (an import, a migration) may rightly run one statement or transaction for
    # minutes; the server's bounds are for requests (config/settings/base.py).
    for bound in ("STATEMENT", "LOCK", "IDLE_IN_TRANSACTION"):
        os.environ.setdefault(f"DATABASE_{bound}_TIMEOUT_MS", "0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
