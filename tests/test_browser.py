"""The dashboard as a person sees it: real headless Chromium against a live server.

Needs Debian's ``chromium`` and ``chromium-driver``; ``make test`` installs them
(``scripts/system-packages``). Without them the test fails, naming the command that installs
them: it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from railway_sync.models import SyncRun
from tests.conftest import DB, closed_port, execute, run
from tests.helpers import railway_settings
from tests.proxy import SilentServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "sudo apt-get update && sudo apt-get install -y chromium chromium-driver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1200",
)
# The admin's own colours (base.css) and the panel's badges, as the browser computes them.
HEADER_BACKGROUND = "rgb(65, 118, 144)"  # --header-bg: #417690
IN_SYNC_GREEN = "rgb(46, 125, 50)"
OUT_OF_SYNC_ORANGE = "rgb(230, 81, 0)"
UNKNOWN_GREY = "rgb(97, 97, 97)"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not installed; install them with: {INSTALL}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="railway-sync-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def log_in(browser: WebDriver, base: str) -> None:
    browser.get(f"{base}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("password")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # click() returns before the next page has loaded: wait for it (a busy machine is slow).
    wait = WebDriverWait(browser, 60)
    wait.until(expected_conditions.url_to_be(f"{base}/admin/"))
    wait.until(expected_conditions.presence_of_element_located((By.ID, "railway-runs")))


def background(browser: WebDriver, element: WebElement) -> str:
    return str(
        browser.execute_script("return getComputedStyle(arguments[0]).backgroundColor", element)
    )


def panel_rows(browser: WebDriver) -> list[list[str]]:
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in browser.find_elements(By.CSS_SELECTOR, "#railway-panel tr.railway-table")
    ]


def screenshot(browser: WebDriver, name: str) -> None:
    """Kept for a person to look at when RAILWAY_SYNC_SCREENSHOTS names a folder."""
    folder = os.environ.get("RAILWAY_SYNC_SCREENSHOTS")
    if folder:
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))


@DB
def test_dashboard_in_a_real_browser(seeded, admin_user, live_server, browser):
    assert run("railway_sync")[2] == 0
    last = SyncRun.objects.using("default").get()
    base = live_server.url

    log_in(browser, base)
    screenshot(browser, "in-sync")

    # Styled: the admin's CSS reached the browser.
    assert background(browser, browser.find_element(By.ID, "header")) == HEADER_BACKGROUND
    # The panel opens the index, then the recent runs, then the models.
    assert browser.find_element(By.CSS_SELECTOR, "#railway-panel h2").text == (
        "Is Railway current?"
    )
    assert panel_rows(browser) == [
        ["organizations", "6", "6", "in sync", ""],
        ["animals", "60", "60", "in sync", ""],
        ["animal_images", "20", "20", "in sync", ""],
        ["scrape_logs", "15", "15", "in sync", ""],
        ["service_regions", "5", "5", "in sync", ""],
    ]
    verdict = browser.find_element(By.CSS_SELECTOR, "#railway-panel .verdict")
    assert verdict.text == "in sync Railway is current: every row matches local."
    badge = verdict.find_element(By.CLASS_NAME, "railway-badge")
    assert background(browser, badge) == IN_SYNC_GREEN
    assert browser.find_element(By.CSS_SELECTOR, "#railway-panel .last-sync").text.startswith(
        f"Last successful sync: {last.finished_at:%Y-%m-%d %H:%M:%S} ("
    )
    runs = browser.find_elements(By.CSS_SELECTOR, "#railway-runs tr.railway-run")
    assert [run.text.split()[2:7] for run in runs] == [
        ["railway_sync", "incremental", "success", "106", "0"]
    ]
    assert browser.find_elements(By.CSS_SELECTOR, "#railway-panel svg rect")

    # Out of sync: a row changed on Railway, one missing there.
    execute("railway", "UPDATE animals SET name = 'Tampered' WHERE id = 3")
    execute("railway", "DELETE FROM service_regions WHERE id = 5")
    browser.get(f"{base}/admin/")
    screenshot(browser, "out-of-sync")

    assert panel_rows(browser) == [
        ["organizations", "6", "6", "in sync", ""],
        ["animals", "60", "60", "out of sync", "1 differ"],
        ["animal_images", "20", "20", "in sync", ""],
        ["scrape_logs", "15", "15", "in sync", ""],
        ["service_regions", "5", "4", "out of sync", "1 missing on Railway"],
    ]
    badges = browser.find_elements(
        By.CSS_SELECTOR, "#railway-panel tr.railway-table .railway-badge"
    )
    assert [background(browser, b) for b in badges] == [
        IN_SYNC_GREEN,
        OUT_OF_SYNC_ORANGE,
        IN_SYNC_GREEN,
        IN_SYNC_GREEN,
        OUT_OF_SYNC_ORANGE,
    ]
    assert browser.find_element(By.CSS_SELECTOR, "#railway-panel .recommendation").text == (
        "Run: python manage.py railway_sync"
    )

    # Railway down: refused connections.
    port = closed_port()
    with railway_settings(HOST="127.0.0.1", PORT=port):
        browser.get(f"{base}/admin/")
        screenshot(browser, "railway-down")
        problem = browser.find_element(By.CSS_SELECTOR, "#railway-panel .errornote").text
        rows = panel_rows(browser)
        verdict = browser.find_element(By.CSS_SELECTOR, "#railway-panel .verdict").text

    assert problem.startswith(f'Railway: connection to server at "127.0.0.1", port {port} failed')
    assert "Connection refused" in problem
    assert verdict == "unknown Railway's state is unknown."
    assert rows == [
        ["organizations", "6", "-", "unknown", ""],
        ["animals", "60", "-", "unknown", ""],
        ["animal_images", "20", "-", "unknown", ""],
        ["scrape_logs", "15", "-", "unknown", ""],
        ["service_regions", "5", "-", "unknown", ""],
    ]


@DB
def test_dashboard_loads_while_railway_hangs(seeded, admin_user, live_server, browser):
    """A Railway that accepts and never answers: the page still comes, after the admin's
    3 s connect timeout, with the local counts and what is wrong."""
    log_in(browser, live_server.url)
    hung = SilentServer()
    try:
        with railway_settings(HOST="127.0.0.1", PORT=hung.port):
            started = time.monotonic()
            browser.get(f"{live_server.url}/admin/")
            seconds = time.monotonic() - started
            problem = browser.find_element(By.CSS_SELECTOR, "#railway-panel .errornote").text
            rows = panel_rows(browser)
            badge = browser.find_element(By.CSS_SELECTOR, "#railway-panel .verdict .railway-badge")
            colour = background(browser, badge)
    finally:
        hung.close()

    assert problem.endswith(
        "timeout expired (No answer within 3 s: check the host and port in "
        "RAILWAY_DATABASE_URL and the network, or raise RAILWAY_ADMIN_TIMEOUT.)"
    )
    assert [row[:3] for row in rows][1] == ["animals", "60", "-"]
    assert colour == UNKNOWN_GREY
    assert seconds < 10  # 3 s of trying, and generous room for a busy machine
