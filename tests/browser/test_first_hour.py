"""A newcomer's first hour, in a real browser against a real server: from the front door to
Swagger UI with a token and a live call, the Redoc reference with nothing fetched from another
host, and admin from a session to its scorecard. A screenshot follows every step."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, Demo
from tests.live import get

if not CHROMIUM.exists() and os.environ.get("CI"):
    raise RuntimeError(f"CI installs chromium (.ci/run): {CHROMIUM} is missing")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium (CI does)"
)


class Steps:
    """Numbered steps, each ending in a screenshot of the window; a failing step's is of the
    whole page, and marked as such."""

    def __init__(self, page, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.count = 0

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        try:
            yield
        except BaseException:
            self.page.screenshot(path=self.folder / f"{stem}-FAILED.png", full_page=True)
            raise
        self.page.screenshot(path=self.folder / f"{stem}.png")


def _api(demo: Demo, path: str) -> dict:
    status, _headers, body = get(f"{demo.base}{path}", {"Authorization": f"Bearer {demo.token}"})
    assert status == 200, body
    return body["data"]


def test_first_hour(demo: Demo, screenshots: Path, browser_page) -> None:
    page = browser_page
    step = Steps(page, screenshots)
    requests = []
    page.on("request", lambda request: requests.append(request))
    newest_started_at = _api(demo, "/api/v1/sessions?limit=1")[0]["started_at"]

    with step("front-door"):
        page.goto(f"{demo.base}/")
        page.get_by_role("heading", name="Role-play reporting API").wait_for()

    with step("swagger-ui"):
        page.get_by_role("link", name="Interactive docs (Swagger UI)").click()
        page.wait_for_url(f"{demo.base}/api/v1/docs")
        page.locator("#operations-sessions-list_sessions").wait_for()

    with step("authorize"):
        page.locator(".btn.authorize").first.click()
        modal = page.locator(".modal-ux")
        modal.locator("input").fill(demo.token)
        modal.get_by_role("button", name="Apply credentials").click()
        modal.locator("button", has_text="Logout").wait_for()  # shown once authorized

    with step("authorized"):
        modal.locator("button", has_text="Close").click()
        modal.wait_for(state="detached")

    with step("list-sessions"):
        operation = page.locator("#operations-sessions-list_sessions")
        operation.locator(".opblock-summary").click()
        operation.locator(".try-out__btn").click()
        operation.locator(".execute").click()
        live = operation.locator(".live-responses-table")
        body = live.locator(".response-col_description .highlight-code pre").first
        body.wait_for()
        assert live.locator("tbody .response-col_status").first.inner_text().strip() == "200"
        body.scroll_into_view_if_needed()
        shown = json.loads(body.inner_text())
        assert shown["ok"] is True
        assert shown["data"][0]["started_at"] == newest_started_at

    with step("redoc"):
        page.goto(f"{demo.base}/api/v1/redoc")
        page.locator(".api-content h1", has_text="Role-play reporting API").wait_for()
        page.locator(".api-content h2", has_text="List sessions, newest first").wait_for()
        # Redoc's bundle asks cdn.redoc.ly for a logo once it has drawn its menu.
        page.wait_for_load_state("networkidle")
        _assert_nothing_left(requests, demo.base)

    with step("admin-login"):
        page.goto(f"{demo.base}/admin/")
        page.locator("#id_username").fill(demo.admin_username)
        page.locator("#id_password").fill(demo.admin_password)
        page.locator("#login-form [type=submit]").click()
        page.locator("#site-name").wait_for()
        assert "/admin/login/" not in page.url

    with step("scored-sessions"):
        page.goto(f"{demo.base}/admin/roleplay/session/")
        by_status = page.locator("#changelist-filter details", has_text="session status")
        by_status.get_by_role("link", name="Scored", exact=True).click()
        page.wait_for_url(re.compile(r"status__exact=scored"))
        page.locator("#result_list tbody tr").first.wait_for()
        # At 1366 px the list fits beside the navigation and the filters.
        assert page.evaluate(
            "() => { const r = document.querySelector('#changelist .results');"
            " return r.scrollWidth <= r.clientWidth; }"
        )

    with step("session"):
        page.locator("#result_list tbody tr th a").first.click()
        change_page = re.compile(r"/admin/roleplay/session/([^/]+)/change/")
        page.wait_for_url(change_page)  # with the list's filters in the query
        session_id = change_page.search(page.url).group(1)
        session = _api(demo, f"/api/v1/sessions/{session_id}")
        assert session["scorecard_id"], "the Scored filter led to a session without a scorecard"
        transcript = page.locator(".field-transcript_view table")
        transcript.wait_for()
        first_line = session["transcript"][0]["message"]
        assert transcript.get_by_text(first_line, exact=True).is_visible()
        link = page.locator(".field-scorecard_link a")
        assert link.get_attribute("href") == (
            f"/admin/roleplay/scorecard/{session['scorecard_id']}/change/"
        )

    with step("scorecard"):
        link.click()
        page.wait_for_url(f"{demo.base}/admin/roleplay/scorecard/{session['scorecard_id']}/change/")
        page.get_by_role("heading", name="Change scorecard").wait_for()
        assert page.locator(".field-categories_table table").is_visible()
        back = page.locator(".field-session_link a")
        assert back.get_attribute("href") == f"/admin/roleplay/session/{session_id}/change/"

    _assert_nothing_left(requests, demo.base)


def _assert_nothing_left(requests, base: str) -> None:
    """Every request went to the server, or was data or a blob, or was refused by the page's
    own Content-Security-Policy: such a request is never sent (Playwright still reports it)."""
    left = []
    for request in requests:
        if request.url.startswith((f"{base}/", "data:", "blob:")):
            continue
        request.response()  # waits until it is answered or has failed
        if request.failure != "csp":
            left.append(f"{request.url} ({request.failure or 'answered'})")
    assert not left, left
