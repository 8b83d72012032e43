"""Real headless Chromium (Debian's, not Playwright's download) driven against `live_server`."""

import os
import shutil

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

TIMEOUT_MS = 10_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

expect.set_options(timeout=TIMEOUT_MS)

# Runs before any script of every page (Playwright injects it, so the page's CSP does not apply)
# and reports each Content-Security-Policy violation to the test.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.trovaCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} ` +
    `at ${e.sourceFile}:${e.lineNumber} on ${document.location.pathname}`);
});
"""


def _chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(path, os.X_OK):
        pytest.fail(
            "Browser tests need Debian's Chromium at /usr/bin/chromium (or `chromium` on PATH): "
            "apt-get install -y chromium. Playwright's own browser download does not work here.",
            pytrace=False,
        )
    return path


# Package scope: one Chromium for every test here, and closed as soon as the last browser test
# has run, so the event loop and the environment variable below never outlive this package.
@pytest.fixture(scope="package")
def browser():
    executable = _chromium_path()
    # Playwright's sync API keeps an asyncio event loop running in this thread for as long as it
    # is started, so Django thinks it is in async code and raises SynchronousOnlyOperation on
    # every ORM call from the test (factories, assertions, the flush between tests). Those calls
    # are plain blocking code that never runs inside that loop, so the check is a false alarm.
    # Set only while Playwright runs: a variable set at import time would leak into the rest of
    # the suite and into subprocesses (`manage.py check --deploy` fails on it: async.E001).
    with pytest.MonkeyPatch.context() as mp, sync_playwright() as playwright:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except PlaywrightError as exc:
            pytest.fail(f"Chromium at {executable} did not start: {exc}", pytrace=False)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page() -> a page in a fresh browser context (its own cookies), at the live server.

    JavaScript errors and Content-Security-Policy violations on any of these pages fail the
    test at teardown.
    """
    contexts, js_errors, csp_violations = [], [], []

    def make():
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.expose_function("trovaCspViolation", lambda text: csp_violations.append(text))
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: js_errors.append(f"{page.url}: {exc}"))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not js_errors, f"JavaScript errors in the page: {js_errors}"
    assert not csp_violations, f"Content-Security-Policy violations: {csp_violations}"


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def log_in():
    """log_in(page, user) signs in through the real login page (personas use "pw-<username>")."""

    def sign_in(page, user) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill("pw-" + user.username)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name=f"Log out ({user.display_name})")).to_be_visible()

    return sign_in
