"""A live server with the demo data, and a Chromium page on it, for the browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.live import ROOT, gunicorn, manage, server_env

CHROMIUM = Path("/usr/bin/chromium")  # Debian's: nothing is downloaded (no `playwright install`)
STEP_TIMEOUT_MS = 15_000


@dataclass(frozen=True)
class Demo:
    base: str  # the server's URL, no trailing slash
    token: str  # every scope, tenant acme
    admin_username: str
    admin_password: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[Demo]:
    """gunicorn on a migrated SQLite file with fixtures/demo.jsonl, a token and a superuser."""
    path = tmp_path_factory.mktemp("browser") / "demo.sqlite3"
    env = server_env(DATABASE_URL=f"sqlite:///{path}")
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "import_data", str(ROOT / "fixtures" / "demo.jsonl"))
    token = manage(env, "create_token", "--tenant", "acme", "--name", "browser", "--scopes", "all")
    password = "browser-test-admin"
    manage(
        {**env, "DJANGO_SUPERUSER_PASSWORD": password},
        "createsuperuser",
        "--noinput",
        "--username",
        "admin",
        "--email",
        "admin@example.test",
    )
    with gunicorn(env) as base:
        yield Demo(base=base, token=token, admin_username="admin", admin_password=password)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    """BROWSER_SCREENSHOTS (CI keeps it when a run fails), else a pytest temporary folder."""
    chosen = os.environ.get("BROWSER_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"browser screenshots: {folder}")
    return folder


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless"]
        )
        try:
            # The narrowest screen operators are expected to use.
            context = browser.new_context(viewport={"width": 1366, "height": 900})
            context.set_default_timeout(STEP_TIMEOUT_MS)
            context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
            yield context.new_page()
        finally:
            browser.close()
