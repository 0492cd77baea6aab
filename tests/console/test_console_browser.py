"""The console in a real browser: sign in, see a posted call appear live, open it, on a map.

Drives Debian's Chromium (``/usr/bin/chromium``) through Playwright against a real server. Chinese
text needs a CJK font on the machine (Debian: ``fonts-noto-cjk``); without one the test still
passes but the screenshot shows boxes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from command_center.auth import create_user
from tests.console.live import LiveServer
from tests.support import DESIGN_EXAMPLE, make_key, make_token

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
]
LEVEL_NAMES = {"I": "特别重大", "II": "重大", "III": "较大", "IV": "一般"}
USERNAME, PASSWORD = "duty-officer", "correct horse battery"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


class PageWatch:
    """Everything the page says that a test should fail on."""

    def __init__(self, page: Any, origin: str) -> None:
        self.errors: list[str] = []
        self.external: list[str] = []
        self.failed: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("request", lambda request: self._request(request.url, origin))
        page.on("requestfailed", lambda request: self.failed.append(request.url))
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} @ {message.location.get('url')}")

    def _response(self, response: Any) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def _request(self, url: str, origin: str) -> None:
        scheme = urlsplit(url).scheme
        if scheme in {"data", "blob"}:
            return
        if not url.startswith((origin, origin.replace("http", "ws", 1))):
            self.external.append(url)


def _keep(screenshot: Path) -> None:
    """Copy the screenshot where a person can look at it, when they ask for it."""
    target = os.environ.get("LINKAGE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(target) / screenshot.name)


def test_operator_sees_a_call_live_and_opens_it(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    runtime, base = live_server.runtime, live_server.base_url
    with runtime.sessions() as session, session.begin():
        create_user(session, USERNAME, "operator", PASSWORD)
    key = make_key(runtime, "fire")

    page = browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    watch = PageWatch(page, base)
    page.set_default_timeout(8000)
    page.goto(f"{base}/console/")

    # Sign in through the form.
    page.locator("#sign-in").wait_for(state="visible")
    page.fill("#username", USERNAME)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-submit")
    page.wait_for_selector("#conn[data-state='open']")
    assert page.text_content("#conn-text") == "已连接"
    assert page.evaluate("sessionStorage.getItem('linkage.token')")

    # An agency posts the DESIGN.md example; it shows up without a reload.
    answer = httpx.post(
        f"{base}/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers={"X-API-Key": key}
    )
    assert answer.status_code == 202, answer.text
    item = page.locator("#incident-list [data-incident-id]").first
    item.wait_for(state="visible", timeout=5000)

    token = page.evaluate("sessionStorage.getItem('linkage.token')")
    listed = httpx.get(f"{base}/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    (incident,) = listed.json()["items"]
    level = incident["level"]
    badge = item.locator(".badge")
    assert badge.get_attribute("data-level") == level
    assert LEVEL_NAMES[level] in badge.text_content()
    assert "救援" in item.text_content(), "the category in Chinese"
    assert "1 条报告" in item.text_content(), "the event count"

    # Clicking it opens the details with the explanation and the tasks by agency.
    item.click()
    page.locator("#details").wait_for(state="visible")
    assert page.text_content("#details-explanation") == incident["explanation"]
    assert "消防救援" in page.text_content("#details-body"), "fire's task, by its Chinese name"

    # The map rendered, and its incident source holds the point.
    page.wait_for_function("() => window.__linkage.map && window.__linkage.map.loaded()")
    page.wait_for_function(
        "() => window.__linkage.map.querySourceFeatures('incidents').length >= 1"
    )

    # The language toggle switches the interface to English and back.
    page.click("#lang-toggle")
    assert page.text_content("#conn-text") == "Connected"
    assert "Rescue" in item.text_content()
    page.click("#lang-toggle")
    assert page.text_content("#conn-text") == "已连接"

    # Keyboard: Esc closes the details and gives focus back to the incident.
    page.keyboard.press("Escape")
    page.locator("#details").wait_for(state="hidden")
    assert page.evaluate("document.activeElement.dataset.incidentId") == incident["id"]
    page.keyboard.press("Enter")
    page.locator("#details").wait_for(state="visible")

    # Acknowledging from the details panel goes through the commands API and comes back to
    # every console as a delta: the status changes and the button goes away.
    page.click("#details-ack")
    page.locator("#details-ack").wait_for(state="detached", timeout=5000)
    assert "已确认" in page.text_content("#details-body")
    acknowledged = httpx.get(
        f"{base}/api/v1/incidents/{incident['id']}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert acknowledged["status"] == "acknowledged"
    assert acknowledged["version"] == incident["version"] + 1

    # A lost delta (a gap in seq) makes the console ask for a fresh snapshot, and an incident it
    # was never told about by a snapshot does not survive that.
    seq = page.evaluate("window.__linkage.live.seq")
    page.evaluate(
        """(seq) => {
        const live = window.__linkage.live;
        window.__sent = [];
        const send = live.socket.send.bind(live.socket);
        live.socket.send = (text) => { window.__sent.push(JSON.parse(text).type); send(text); };
        const bogus = {id: 'bogus', level: 'I', status: 'new', version: 1, category: 'fire'};
        live.socket.dispatchEvent(new MessageEvent('message', {data: JSON.stringify(
            {type: 'delta', seq: seq + 5, kind: 'incident', incident: bogus})}));
    }""",
        seq,
    )
    page.wait_for_function("() => !window.__linkage.live.awaitingSnapshot")
    assert page.evaluate("window.__sent") == ["resync"]
    assert page.evaluate("window.__linkage.live.seq") == seq
    assert page.evaluate("window.__linkage.store.get('bogus')") is None

    # A dropped connection is shown and healed by reconnecting.
    page.evaluate("window.__linkage.live.socket.close()")
    page.wait_for_selector("#conn[data-state='reconnecting']")
    assert page.text_content("#conn-text") == "重连中…"
    page.wait_for_selector("#conn[data-state='open']", timeout=5000)
    assert page.locator("#incident-list [data-incident-id]").count() == 1

    page.wait_for_timeout(700)  # let the fly-to settle for the picture
    screenshot = tmp_path / "console.png"
    page.screenshot(path=str(screenshot))
    _keep(screenshot)
    page.close()

    assert watch.errors == []
    assert watch.external == [], "the console must work on an isolated network"
    assert watch.failed == []


def test_token_link_and_a_map_without_geo_layers(
    live_server: LiveServer, browser: Any, tmp_path: Path
) -> None:
    """The demo's #token= link signs in; failing geo layers leave a notice, not a broken console."""
    runtime, base = live_server.runtime, live_server.base_url
    token = make_token(runtime)
    key = make_key(runtime, "fire")
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    watch = PageWatch(page, base)
    page.set_default_timeout(8000)
    page.route("**/api/v1/geo/layers/**", lambda route: route.fulfill(status=503, body="down"))

    page.goto(f"{base}/console/#token={token}")
    page.wait_for_selector("#conn[data-state='open']")
    assert "token" not in page.evaluate("location.href"), "the token leaves the address bar"
    assert page.locator("#sign-in").is_hidden()
    notice = page.locator("#map-notice")
    notice.wait_for(state="visible")
    assert "底图暂不可用" in notice.text_content()

    answer = httpx.post(
        f"{base}/api/v1/feeds/incident", json=DESIGN_EXAMPLE, headers={"X-API-Key": key}
    )
    assert answer.status_code == 202, answer.text
    page.locator("#incident-list [data-incident-id]").first.wait_for(state="visible")
    page.wait_for_function(
        "() => window.__linkage.map.querySourceFeatures('incidents').length >= 1"
    )
    screenshot = tmp_path / "console-no-basemap.png"
    page.screenshot(path=str(screenshot))
    _keep(screenshot)
    page.close()

    # Only the refused layers may have failed, and only as failed loads: no script error.
    assert watch.failed and all("/api/v1/geo/layers/" in url for url in watch.failed)
    assert all(e.startswith("console: Failed to load resource") for e in watch.errors), watch.errors
    assert watch.external == []
