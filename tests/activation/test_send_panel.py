"""The send panel of the campaign page in a real browser (Debian's chromium driven by
Playwright, the app served by uvicorn on 127.0.0.1, a real webhook receiver): the dry run's
figures, a member's message preview, the send button only for the roles that may send, and the
status after a send, in Chinese and English. The reference for the figures is the service the API calls."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from .test_web import PASSWORD, web  # noqa: F401 - the app with a planned campaign WEB-1

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)",
    ),
    pytest.mark.slow,
]
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def served(web):  # noqa: F811
    import uvicorn

    app = web[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", web
    server.should_exit = True
    thread.join(timeout=10)


def _login(browser, url: str, role: str):
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(f"{e.message}\n{e.stack}"))
    page.goto("/login")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return context, page


def _figures(page, table: str) -> dict[str, str]:
    rows = page.locator(f"#{table} tbody tr")
    return {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
        for i in range(rows.count())
    }


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_send_panel_dry_run_button_and_status(served, receiver, lang):
    from playwright.sync_api import expect, sync_playwright

    from memberlens.activation.sends import dry_run, preview
    from memberlens.web.i18n import catalogue

    url, (_app, project, store, _clients, campaign, ids) = served
    words = catalogue(lang)
    plan = dry_run(store, project, campaign.campaign_id)
    number = "{:,}".format
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            # an analyst sees the figures but no send button (the API refuses it too)
            context, page = _login(browser, url, "analyst")
            page.goto(f"/campaigns/{campaign.campaign_id}?lang={lang}")
            expect(page.locator("#send-card")).to_be_visible(timeout=60_000)
            expect(page.locator("#send-dry-run tbody tr").first).to_be_visible(timeout=60_000)
            assert page.locator("#send-button").count() == 0
            context.close()

            context, page = _login(browser, url, "marketer")
            page.goto(f"/campaigns/{campaign.campaign_id}?lang={lang}")
            expect(page.locator("#send-dry-run tbody tr").first).to_be_visible(timeout=60_000)
            assert words["send.title"] in page.locator("#send-card h2").inner_text()
            shown = _figures(page, "send-dry-run")
            assert shown[words["send.would_send"]] == number(plan.would_send)
            assert shown[words["send.control"]] == number(plan.control)
            assert shown[words["send.excluded_opted_out"]] == "0"
            assert _figures(page, "send-status")[words["send.pending"]] == number(plan.would_send)
            # the preview of a member's message is the one the service renders
            member = ids[0]
            rendered, _fields = preview(store, project, campaign.campaign_id, member)
            page.fill("#preview-member", member)
            page.click("#preview-button")
            expect(page.locator("#preview-out")).to_be_visible(timeout=60_000)
            assert page.locator("#preview-body").inner_text() == rendered.body
            assert page.locator("#preview-subject").inner_text() == (rendered.subject or "")
            page.fill("#preview-member", "NOT-A-MEMBER")
            page.click("#preview-button")
            expect(page.locator("#preview-error")).not_to_be_empty(timeout=60_000)
            assert page.locator("#preview-out").is_hidden()
            page.click("#send-button")
            expect(page.locator("#send-result")).not_to_be_empty(timeout=120_000)
            expect(page.locator("#send-status")).to_contain_text(number(plan.would_send))
            status = _figures(page, "send-status")
            assert len(receiver.delivered()) == plan.would_send
            assert status[words["send.sent"]] == number(plan.would_send)
            assert status[words["send.pending"]] == "0"
            assert page.errors == []
            context.close()
        finally:
            browser.close()
