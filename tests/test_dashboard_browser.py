"""End to end: `uspd serve` on a simulated walk-in, the page in headless Chromium (Debian's
`chromium`, driven by Playwright): it must show the room occupied, mark the detection on
the Doppler spectrogram, and save a setting through the form.

Skipped where Chromium or Playwright is missing, unless USPD_REQUIRE_BROWSER=1 (CI sets
it), which turns the skip into a failure. USPD_DASHBOARD_SCREENSHOT=PATH keeps a screenshot
of the page during the walk-in (docs/img/dashboard.png is made this way).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from serve_process import ServeProcess
from uspd.config import load_config

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _browser_or_skip():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed (test extra)"
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (apt-get install chromium)"
    if missing is not None:
        if os.environ.get("USPD_REQUIRE_BROWSER") == "1":
            pytest.fail(f"USPD_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    return sync_playwright


def test_the_page_shows_a_simulated_walk_in_and_saves_a_setting(tmp_path):
    sync_playwright = _browser_or_skip()
    config = tmp_path / "uspd.toml"
    config.write_text('# kitchen sensor\n[presence]\nhold_s = 180.0\n\n[[routines]]\nname = "hall light"\n'
                      'trigger = "occupied"\nactions = [{ type = "command", argv = ["true"] }]\n')
    server = ServeProcess("--scenario", "walk_in", "--seed", "3", "--duration", "12", "--speed", "4",
                          "--journal", str(tmp_path / "events.sqlite3"), "--config", str(config))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                viewport={"width": 1400, "height": 900})
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(server.url)

            page.wait_for_selector("#occupancy.occupied", timeout=30_000)
            assert page.inner_text("#occupancy") == "occupied"
            page.wait_for_function("Number(document.querySelector('#spectrogram').dataset.detections) > 0",
                                   timeout=10_000)
            assert int(page.inner_text("#detection-count")) >= 1
            page.wait_for_selector("#events .routine", timeout=10_000)
            events = page.inner_text("#events")
            assert "major motion" in events and "occupied" in events and "→ hall light" in events
            assert "kHz" in page.inner_text("#calibration")
            screenshot = os.environ.get("USPD_DASHBOARD_SCREENSHOT")
            if screenshot:
                page.screenshot(path=screenshot, full_page=True)

            page.fill("#set-presence-hold_s", "-3")
            page.click("#save")
            page.wait_for_selector("#settings-message.error")
            assert "presence.hold_s" in page.inner_text("#settings-message")
            page.fill("#set-presence-hold_s", "120")
            page.uncheck("#routines input[data-routine='hall light']")
            page.click("#save")
            page.wait_for_selector("#settings-message.ok")
            assert page.inner_text("#settings-message") == "saved and applied"
            assert errors == []
            browser.close()
    finally:
        assert server.stop() == 0, server.output
    saved = load_config(config)
    assert saved.presence.hold_s == 120.0 and saved.routines[0].enabled is False
    assert config.read_text().startswith("# kitchen sensor\n")
