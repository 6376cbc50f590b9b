"""A real headless Chromium for the console's browser tests (tests-e2e/test_console.py).

Debian's ``chromium`` driven through its ``chromedriver`` (``make browser`` installs both;
``COUPON_CHROMIUM_BIN`` / ``COUPON_CHROMEDRIVER_BIN`` name others), never a downloaded one:
both paths are given, so Selenium Manager is not consulted, and ``SE_OFFLINE`` forbids it
to download anything should it be. Pages are checked with axe-core from
tests-e2e/browser/node_modules (``make browser``: npm ci). Screenshots go to
tests-e2e/screenshots/, or to docs/console/ with ``make console-screenshots``.
Waits poll with a deadline (WebDriverWait); nothing sleeps.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from coupon_dev.testing.poll import until_sync
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests-e2e" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
# Where screenshots go: tests-e2e/screenshots (not committed) unless CONSOLE_SCREENSHOTS names
# a directory; `make console-screenshots` points it at docs/console, the guide's pictures.
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or ROOT / "tests-e2e" / "screenshots")
WINDOW = (1280, 900)
# A screenshot shows the whole page up to this height (long lists are cut there).
SHOT_MAX_HEIGHT = 2400
WAIT_S = 15.0
DOWNLOAD_S = 60.0
MISSING = "run `make browser` (deploy/tools/ensure-chromium, ensure-axe-core; docs/console.md)"

# The machine's network is closed: without the background-networking flags Chromium keeps
# trying to reach Google's hosts. --no-sandbox: the tests may run as root.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--password-store=basic",
    "--force-device-scale-factor=1",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
)

# axe.run over the whole document; the violations, each reduced to what a failure message
# needs. Rules marked experimental are not run (axe's default).
_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (result) => done(result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
  }))),
  (error) => done({error: String(error)}),
);
"""


def _binary(variable: str, name: str) -> str:
    path = os.environ.get(variable) or shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise RuntimeError(f"{name} was not found (or {variable} is not executable): {MISSING}")
    return path


@contextlib.contextmanager
def chromium(downloads: Path) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile, saving downloads into ``downloads``."""
    os.environ["SE_OFFLINE"] = "true"
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("COUPON_CHROMIUM_BIN", "chromium")
    for flag in FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory(prefix="coupon-chromium-") as profile:
        options.add_argument(f"--user-data-dir={profile}")
        options.add_experimental_option(
            "prefs",
            {
                "download.default_directory": str(downloads),
                "download.prompt_for_download": False,
                "credentials_enable_service": False,
                "profile.password_manager_enabled": False,
            },
        )
        service = Service(executable_path=_binary("COUPON_CHROMEDRIVER_BIN", "chromedriver"))
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.set_script_timeout(60)
            driver.set_page_load_timeout(60)
            # Headless Chromium asks before saving otherwise; the directory is this test's.
            driver.execute_cdp_cmd(
                "Browser.setDownloadBehavior",
                {"behavior": "allow", "downloadPath": str(downloads)},
            )
            yield driver
        finally:
            driver.quit()


def wait_for(
    driver: WebDriver, check: Callable[[WebDriver], Any], what: str, timeout_s: float = WAIT_S
) -> Any:
    """The first truthy value of ``check(driver)``, polled until ``timeout_s``."""
    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(
        check, f"{what}: not within {timeout_s} s (at {driver.current_url})"
    )


def open_page(driver: WebDriver, url: str) -> None:
    """``url`` loaded (the driver waits for the load event)."""
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete", url)


def fill(driver: WebDriver, fields: dict[str, str]) -> None:
    """Each value put into the form control with that name: typed into a text control,
    chosen in a select (by value), set on a date control (which takes no typing the same way
    in every locale), and a checkbox ticked for "true", cleared for anything else."""
    for name, value in fields.items():
        element = driver.find_element(By.NAME, name)
        kind = element.get_attribute("type")
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        elif kind in ("date", "datetime-local", "time"):
            driver.execute_script("arguments[0].value = arguments[1]", element, value)
        elif kind in ("checkbox", "radio"):
            if element.is_selected() != (value == "true"):
                element.click()
        else:
            element.clear()
            element.send_keys(value)


def _next_page(driver: WebDriver, act: Callable[[], None], what: str) -> None:
    old = driver.find_element(By.TAG_NAME, "html")
    act()
    wait_for(driver, lambda d: _stale(old), f"the page after {what}")
    wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete", what)


def submit(driver: WebDriver, label: str) -> None:
    """Click the submit button whose text is ``label`` and wait for the next page."""
    button = driver.find_element(
        By.XPATH,
        f"//button[normalize-space()='{label}'] | //input[@type='submit'][@value='{label}']",
    )
    _next_page(driver, button.click, f"'{label}'")


def follow(driver: WebDriver, text: str) -> None:
    """Follow the link whose text is ``text`` (in the page's main content) and wait for the
    page it leads to."""
    link = driver.find_element(By.XPATH, f"//main//a[normalize-space()='{text}']")
    _next_page(driver, link.click, f"the link '{text}'")


def download(driver: WebDriver, text: str, downloads: Path, name: str) -> Path:
    """Follow the download link whose text is ``text``: the file ``name`` once Chromium has
    saved it whole into ``downloads`` (it writes ``name.crdownload`` first, then renames)."""
    driver.find_element(By.XPATH, f"//main//a[normalize-space()='{text}']").click()
    target = downloads / name
    until_sync(target.is_file, f"the download {name} in {downloads}", DOWNLOAD_S)
    return target


def flash(driver: WebDriver) -> str:
    """The message the previous action left (a created code, a done change)."""
    return str(driver.find_element(By.CSS_SELECTOR, ".flash-area").text)


def _stale(element: Any) -> bool:
    try:
        element.tag_name  # noqa: B018 - touching a replaced page's element raises
    except Exception:  # StaleElementReferenceException
        return True
    return False


def sign_in(driver: WebDriver, base: str, email: str, password: str) -> None:
    """Signed in through the sign-in form; waits for the page it leads to."""
    open_page(driver, f"{base}/console/sign-in")
    fill(driver, {"email": email, "password": password})
    submit(driver, "Sign in")
    wait_for(driver, lambda d: "/console/sign-in" not in d.current_url, f"sign-in of {email}")


def sign_out(driver: WebDriver) -> None:
    submit(driver, "Sign out")


def axe(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (an empty list: none)."""
    if not AXE.is_file():
        raise RuntimeError(f"{AXE} is missing: {MISSING}")
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(_RUN_AXE)
    if isinstance(result, dict):
        raise RuntimeError(f"axe.run failed on {driver.current_url}: {result['error']}")
    return list(result)


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations as lines: rule id, impact, what it asks, and where."""
    return "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'][:5])}"
        for v in violations
    )


def shot(driver: WebDriver, name: str) -> Path:
    """A screenshot of the whole page (up to SHOT_MAX_HEIGHT) at SHOTS/<name>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    height = min(int(metrics["cssContentSize"]["height"]), SHOT_MAX_HEIGHT)
    clip = {"x": 0, "y": 0, "width": WINDOW[0], "height": max(height, 1), "scale": 1}
    picture = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "clip": clip, "captureBeyondViewport": True},
    )
    path = SHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(picture["data"]))
    return path


def checked(driver: WebDriver, name: str | None = None) -> None:
    """The page passes axe-core with no violation; its screenshot is saved as ``name``
    (when named: the pages docs/console.md shows)."""
    if name is not None:
        shot(driver, name)
    violations = axe(driver)
    assert not violations, f"{driver.current_url}: axe-core violations:\n{describe(violations)}"
