"""Staff admin pages fit a 1440 px wide screen: no column cut off, no sideways scrolling."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from feedback.services import outcome_record_publish, rating_set

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}

# How far each element sticks out of the window or of the box that holds it, in px (0 = fits).
OVERFLOW = """(selectors) => {
  const viewport = document.documentElement.clientWidth;
  const out = {page: document.documentElement.scrollWidth - viewport};
  for (const selector of selectors) {
    const element = document.querySelector(selector);
    if (!element) { out[selector] = "missing"; continue; }
    const box = element.getBoundingClientRect();
    const holder = element.parentElement;
    out[selector] = Math.max(
      Math.ceil(box.right - viewport), holder.scrollWidth - holder.clientWidth, 0
    );
  }
  return out;
}"""


@pytest.fixture
def engineer(staff_with):
    """Staff who read the run log and the feedback report, and nothing more."""
    return staff_with("ai_prefill.view_prefillrun", "feedback.view_prefilloutcome", username="eve")


@pytest.fixture
def runs(seller, settings):
    settings.AI_PROVIDER = "baseline"
    made = []
    for shape, color in [("chair", "blue"), ("bike", "red"), ("mug", "green")]:
        run = start_run(seller, shape=shape, color=color)
        prefill_run_execute(run_id=run.pk)
        made.append(run)
    rating_set(run=made[0], user=seller, rating="down", comment="wrong colour")
    now = timezone.now()
    for number, run in enumerate(made[:2], start=1):
        run.refresh_from_db()
        final = {**run.draft, "title": f"Item {number}", "color": "white", "price_eur": "12.50"}
        outcome_record_publish(
            run=run, final_values=final, listing_id=number,
            form_opened_at=now - timedelta(seconds=95), published_at=now,
        )  # fmt: skip
    # Widest cells a real run log has: a failed OpenAI run with every figure filled in.
    PrefillRun.objects.filter(pk=made[2].pk).update(
        status="failed", error_type="worker_unavailable", provider="openai",
        model="gpt-4.1-mini-2025-04-14", attempts=4, provider_latency_ms=19_876,
        input_tokens=123_456, output_tokens=1_234, cost_usd=Decimal("0.123456"),
    )  # fmt: skip
    return made


def _log_in(page, user) -> None:
    page.set_viewport_size(WIDE)
    page.goto("/admin/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill("pw-" + user.username)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Feedback reports")).to_be_visible()


def test_the_run_list_shows_every_column_at_1440_px(page, engineer, runs):
    _log_in(page, engineer)
    page.goto("/admin/ai_prefill/prefillrun/")
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    selectors = ["#result_list", "#result_list thead th:last-child"]
    for header in ("attempts", "latency", "tokens in / out", "cost"):
        expect(page.locator("#result_list thead")).to_contain_text(header, ignore_case=True)
    assert page.evaluate(OVERFLOW, selectors) == {"page": 0, **dict.fromkeys(selectors, 0)}


def test_the_feedback_report_fits_1440_px(page, engineer, runs):
    _log_in(page, engineer)
    page.get_by_role("link", name="Feedback reports").click()
    expect(page.get_by_role("heading", name="Per field", exact=True)).to_be_visible()
    selectors = [
        "table.headline",
        "table.per-field",
        "table.per-field th:last-child",
        "table.time",
    ]
    assert page.evaluate(OVERFLOW, selectors) == {"page": 0, **dict.fromkeys(selectors, 0)}
    expect(page.locator("table.per-field thead")).to_contain_text("color")
    expect(page.locator("table.per-field thead")).to_contain_text("price_eur")
