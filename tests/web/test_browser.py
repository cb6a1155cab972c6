"""The dashboard in a real browser: Debian's chromium driven by Playwright, the app served by
uvicorn on 127.0.0.1. Logs in, visits every page, switches language, drills from a segment to a
member's 360 page, exports a list, and checks that charts draw (canvas pixels, no console errors).

Screenshots go to ``$MEMBERLENS_TEST_ARTIFACTS/web`` when set, else under ``tmp_path``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                       "(apt-get install -y chromium); browsers are never downloaded"),
    pytest.mark.slow,
]
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PAGES = ("/", "/segments", "/members", "/value", "/cohorts", "/geo", "/baskets", "/data",
         "/admin", "/account")

# Drawn pixels of every ECharts canvas on the page (0 = an empty chart).
_DRAWN = """() => Array.from(document.querySelectorAll('.chart')).filter(d => d.offsetParent)
  .map(d => { const c = d.querySelector('canvas'); if (!c) return [d.id, 0];
    const x = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
    for (let i = 3; i < x.length; i += 16) if (x[i] > 0) n++; return [d.id, n]; })"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(shop, tmp_path_factory):
    import uvicorn

    from memberlens.web import create_app
    from memberlens.web.app import assets_installed
    from memberlens.web.store import add_user

    if not assets_installed():
        pytest.fail("chart assets missing: run `npm ci --prefix web` first")
    app = create_app(shop, database=f"sqlite:///{tmp_path_factory.mktemp('b') / 's.sqlite'}")
    with app.state.ctx.store() as db:
        add_user(db, "chief", "browser-test-password", "admin")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    base = os.environ.get("MEMBERLENS_TEST_ARTIFACTS")
    out = Path(base) / "web" if base else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True,
                                  base_url=server)
    pg = context.new_page()
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.goto("/login")
    pg.fill("input[name=username]", "chief")
    pg.fill("input[name=password]", "browser-test-password")
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{server}/")
    yield pg
    context.close()


def _settle(pg) -> None:
    pg.wait_for_load_state("networkidle")
    pg.wait_for_timeout(700)  # ECharts animations draw over a few frames


def test_every_page_renders_its_charts_without_errors(page, artifacts):
    for path in PAGES:
        page.goto(path)
        _settle(page)
        name = path.strip("/") or "overview"
        page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
        drawn = dict(page.evaluate(_DRAWN))
        blank = [k for k, v in drawn.items() if v == 0]
        assert not blank, (path, drawn)
        assert not page.locator(".alert").count(), (path, page.locator(".alert").all_inner_texts())
    assert page.errors == []
    page.goto("/")
    _settle(page)
    assert page.locator("[data-kpi]").count() == 8
    assert page.locator("[data-kpi=revenue] .value").inner_text().startswith("¥")


def test_language_switch_changes_labels_segments_and_numbers(page, artifacts):
    page.goto("/segments")
    _settle(page)
    assert page.locator("nav a[data-nav=overview]").inner_text() == "经营概览"
    assert "重要价值客户" in page.locator("#seg-table").inner_text()
    page.click("#lang-switch")
    _settle(page)
    assert page.locator("nav a[data-nav=overview]").inner_text() == "Overview"
    table = page.locator("#seg-table").inner_text()
    assert "Important value" in table and "重要价值客户" not in table
    assert "important_value" not in table  # keys never show
    page.screenshot(path=str(artifacts / "segments-en.png"), full_page=True)
    page.goto("/")  # the choice is remembered
    _settle(page)
    assert page.locator("[data-kpi=revenue] .label").inner_text() == "Revenue"
    page.goto("/geo")
    _settle(page)
    assert "Guangdong" in page.locator("#province-table").inner_text()
    assert dict(page.evaluate(_DRAWN))["chart-china"] > 0
    page.screenshot(path=str(artifacts / "geo-en.png"), full_page=True)
    page.click("#lang-switch")
    _settle(page)
    assert "广东省" in page.locator("#province-table").inner_text()
    page.goto("/")
    _settle(page)
    assert page.locator("[data-kpi=revenue] .label").inner_text() == "销售额"
    assert page.errors == []


def test_drill_from_segment_to_member_360_and_export(page, artifacts):
    page.goto("/segments")
    _settle(page)
    page.locator("#seg-table tbody tr", has_text="重要价值客户").first.click()
    page.wait_for_url("**/members?segment=*")
    _settle(page)
    assert page.locator("#segment").input_value() == "重要价值客户"
    with page.expect_download() as info:
        page.click("#export-csv")
    import csv

    with open(info.value.path(), encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and "member_id" in rows[0] and "phone" not in rows[0]
    assert {r["segment_cn"] for r in rows} == {"important_value"}
    assert all("****" in r["phone_masked"] for r in rows if r["phone_masked"])
    first = page.locator("#member-table tbody tr").first
    member_id = first.locator("td").first.inner_text()
    first.click()
    page.wait_for_url(f"**/members/{member_id}")
    _settle(page)
    assert page.locator("#member-id").inner_text() == member_id
    phone = page.locator("#profile dd[data-field=phone_masked]").inner_text()
    assert "****" in phone
    assert dict(page.evaluate(_DRAWN))["chart-orders"] > 0
    page.click("#reveal")
    from playwright.sync_api import expect

    expect(page.locator("#reveal-out")).to_contain_text("假名化")
    page.screenshot(path=str(artifacts / "member-360.png"), full_page=True)
    assert page.errors == []
