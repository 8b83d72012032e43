"""Every kind of page works in Chromium under the Content-Security-Policy and Permissions-Policy.

The `new_page` fixture fails a test on any `securitypolicyviolation` event or JavaScript error;
here every page's console must stay silent too, and each page must still do its job: the Sell
page's pre-fill, the admin's Chart.js report, the custom admin pages, Swagger UI's operations.
"""

import re

import pytest
from playwright.sync_api import expect

from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import EvalCase, PromptVersion
from ai_prefill.tests.test_admin import _run_evals  # the admin tests' two baseline eval runs
from listings.tests.factories import ConversationFactory, ListingFactory, MessageFactory
from marketplace.sample_images import render_item
from tests.browser.test_annotation import sampled_task
from tests.browser.test_sell_prefill import DONE, DRAFT, assert_draft_shown
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.browser


def watched(page) -> list[str]:
    """Every console message of the page, whatever its level."""
    messages = []
    page.on(
        "console",
        lambda m: messages.append(f"{m.type}: {m.text} ({m.location.get('url')}, on {page.url})"),
    )
    return messages


def visit(page, url: str) -> None:
    """Open a page and check it came with both policies, scripts limited to this site's files."""
    response = page.goto(url)
    assert response.status == 200, url
    headers = response.all_headers()
    policy = headers.get("content-security-policy", "")
    scripts = re.search(r"(?:^|;)\s*script-src ([^;]*)", policy)
    assert scripts, (url, policy)
    assert scripts.group(1).split()[0] == "'self'", (url, policy)
    assert "'unsafe-inline'" not in scripts.group(1), (url, policy)
    assert "camera=()" in headers.get("permissions-policy", ""), url


def settle(page) -> None:
    """Let late scripts run and their violations (if any) reach the test."""
    page.wait_for_load_state("networkidle")
    page.evaluate("() => new Promise((resolve) => setTimeout(resolve, 100))")


def test_the_site_works_under_the_policy(
    page, log_in, seller, buyer, fake_openai, tmp_path, settings
):
    listing = ListingFactory(seller=seller, title="Red bike")
    conversation = ConversationFactory(listing=listing, buyer=buyer)
    MessageFactory(conversation=conversation, sender=buyer, body="Is it still there?")
    console = watched(page)

    for url in ["/", f"/listings/{listing.pk}/", "/accounts/login/", "/accounts/signup/"]:
        visit(page, url)
        settle(page)
    visit(page, "/accounts/password_reset/")

    log_in(page, seller)
    for url in ["/my/listings/", f"/listings/{listing.pk}/edit/", "/inbox/"]:
        visit(page, url)
        settle(page)
    visit(page, f"/inbox/{conversation.pk}/")
    expect(page.get_by_text("Is it still there?")).to_be_visible()

    # The Sell page's pre-fill: sell.js posts the photo, polls and fills the form.
    fake_openai.script(Behaviour.success(draft=DRAFT))
    photo = tmp_path / "armchair.jpg"
    photo.write_bytes(render_item(shape="chair", color="blue"))
    visit(page, "/sell/")
    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(page.locator("#photo-preview")).to_be_visible()  # a blob: URL
    expect(page.locator("#prefill-status .message")).to_have_text(DONE)
    assert_draft_shown(page, ["title", "category", "price_eur"])
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Your listing is live.")
    settle(page)
    assert console == []


@pytest.fixture
def admin_data(seller, settings, tmp_path):
    """A finished run in the feedback report and the annotation queue, two eval runs."""
    settings.AI_PROVIDER = "baseline"
    task = sampled_task(seller)
    run = task.run
    starter_cases_load()
    run_a = _run_evals(tmp_path)
    run_b = _run_evals(tmp_path, "--baseline", str(run_a.pk))
    return {"run": run, "task": task, "eval_runs": (run_a, run_b)}


def test_the_admin_works_under_the_policy(page, superuser, admin_data):
    # A superuser: the walk spans every app's admin, a user's change form and the review page
    # of a task nobody claimed (which only a superuser may open).
    run, task = admin_data["run"], admin_data["task"]
    run_a, run_b = admin_data["eval_runs"]
    listing = ListingFactory(title="Red bike")
    case = EvalCase.objects.first()
    version = PromptVersion.objects.get(pk=run_a.prompt_version_id)
    console = watched(page)

    visit(page, "/admin/login/")
    page.get_by_label("Username").fill(superuser.username)
    page.get_by_label("Password").fill("pw-" + superuser.username)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Annotation tasks")).to_be_visible()

    plain_pages = [
        "/admin/",
        "/admin/listings/listing/",
        f"/admin/listings/listing/{listing.pk}/change/",
        f"/admin/ai_prefill/prefillrun/{run.pk}/change/",
        "/admin/ai_prefill/promptversion/",
        f"/admin/ai_prefill/promptversion/diff/?a={version.pk}&b={version.pk}",
        f"/admin/ai_prefill/evalcase/{case.pk}/history/",
        f"/admin/ai_prefill/evalrun/{run_b.pk}/change/",
        "/admin/annotation/annotationtask/",
        "/admin/annotation/annotationtask/agreement/",
    ]
    for url in plain_pages:
        visit(page, url)
        expect(page.locator("#content")).to_be_visible()
        settle(page)

    # The change form's own scripts (the admin's date/time widgets) on an editable model.
    visit(page, f"/admin/marketplace/user/{superuser.pk}/change/")
    page.locator("#id_date_joined_0").locator("xpath=..").get_by_role("link", name="Today").click()
    expect(page.locator("#id_date_joined_0")).not_to_have_value("")

    # The eval comparison and the annotation review page.
    visit(page, f"/admin/ai_prefill/evalrun/compare/?a={run_a.pk}&b={run_b.pk}")
    expect(page.locator("#content")).to_contain_text("shared items")
    visit(page, f"/admin/annotation/annotationtask/{task.pk}/review/")
    photo = page.get_by_alt_text(f"The seller's photo for task {task.pk}")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.naturalWidth") > 0

    # The feedback report: Chart.js (from npm) and the page's script file draw four charts.
    visit(page, "/admin/feedback/prefilloutcome/report/")
    canvases = page.locator(".charts canvas")
    expect(canvases).to_have_count(4)
    drawn = page.evaluate(
        "[...document.querySelectorAll('.charts canvas')]"
        ".map((c) => Boolean(Chart.getChart(c)) && c.width > 0 && c.height > 0)"
    )
    assert drawn == [True] * 4
    settle(page)
    assert console == []


def test_swagger_ui_works_under_the_policy(page):
    console = watched(page)
    visit(page, "/api/docs/")
    expect(page.locator(".opblock")).not_to_have_count(0)
    expect(page.locator(".opblock-summary-path").first).to_be_visible()

    # Try it out: Swagger UI calls the API from the page (connect-src).
    page.locator("#operations-listings-listings_list").click()
    operation = page.locator("#operations-listings-listings_list")
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    expect(operation.locator(".live-responses-table tbody .response-col_status")).to_have_text(
        "200"
    )
    settle(page)
    assert console == []
