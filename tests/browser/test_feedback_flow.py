"""Seller feedback end to end: a thumbs-down on the AI's draft, two corrections at publish, and
the staff feedback report that shows both, charts included.

Celery runs in-process (root conftest), so the run is finished by the Sell page's first poll.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ai_prefill.models import PrefillRun
from feedback.models import FieldCorrection, PrefillOutcome, SuggestionRating
from listings.models import Listing
from marketplace.sample_images import render_item
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.browser

# The AI gets the category wrong (an armchair is not "Home & kitchen") and asks too much.
DRAFT = {
    "title": "Blue armchair with footstool",
    "description": "A blue fabric armchair with its matching footstool. Light wear on the arms.",
    "category": "home-kitchen",
    "condition": "like-new",
    "brand": "Hjemmet",
    "color": "blue",
    "price_eur": 1250.0,
}
FIELDS = list(DRAFT)  # the report's field order (ai_prefill.schema.DRAFT_FIELDS)
CORRECTED = {"category", "price_eur"}
COMMENT = "Wrong category"
THANKS = "Thanks! You can change your answer any time."
DONE = re.compile(r"^Suggested 7 fields from your photo")
REPORT_URL = "/admin/feedback/feedbackreport/"


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "armchair.jpg"
    path.write_bytes(render_item(shape="chair", color="blue"))
    return path


def control(page, name):
    return page.locator(f'#sell-form [name="{name}"]')


def table_after(page, heading: str):
    """The first table after an <h2> of the report (the page's tables have no captions)."""
    return page.locator(f"xpath=//h2[normalize-space()='{heading}']/following::table[1]")


def row_cells(row) -> list[str]:
    """What a reader sees in each <td> of a row, line breaks as spaces."""
    return [" ".join(text.split()) for text in row.locator("td").all_inner_texts()]


def test_a_thumbs_down_and_two_corrections_show_in_the_staff_report(
    new_page, log_in, seller, staff_with, photo, fake_openai
):
    # What the walk below needs: the report, then the run its link opens.
    reader = staff_with(
        "feedback.view_prefilloutcome", "ai_prefill.view_prefillrun", username="rex"
    )
    fake_openai.script(Behaviour.success(draft=DRAFT))

    # --- The seller: photo, draft, thumbs down with a comment, two corrections, publish. ---
    page = new_page()
    log_in(page, seller)
    page.goto("/sell/")
    rating_box = page.locator("#suggestion-rating")
    expect(rating_box).to_be_hidden()

    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(page.locator("#prefill-status .message")).to_have_text(DONE)
    expect(control(page, "category")).to_have_value("home-kitchen")
    expect(control(page, "price_eur")).to_have_value("1.250,00")
    run = PrefillRun.objects.get(user=seller)

    expect(rating_box).to_be_visible()
    expect(rating_box).to_have_attribute("data-run", str(run.pk))
    expect(rating_box.get_by_role("heading")).to_have_text("Were the AI suggestions helpful?")
    thumbs_down = rating_box.get_by_role("button", name="👎 No")
    thumbs_up = rating_box.get_by_role("button", name="👍 Yes")
    rating_box.get_by_label("Comment (optional)").fill(COMMENT)
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith(f"/api/prefill/{run.pk}/feedback/")
    ) as rated:
        thumbs_down.click()
    assert rated.value.status == 200
    expect(rating_box.get_by_role("status")).to_have_text(THANKS)
    expect(thumbs_down).to_have_attribute("aria-pressed", "true")
    expect(thumbs_up).to_have_attribute("aria-pressed", "false")

    page.get_by_label("Category").select_option(label="Furniture")
    page.get_by_label("Price (EUR)").fill("950")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Your listing is live.")
    expect(page.get_by_role("heading", level=1)).to_have_text(DRAFT["title"])

    listing = Listing.objects.get(seller=seller)
    assert (listing.prefill_run_id, listing.category, listing.price_eur) == (
        run.pk,
        "furniture",
        950,
    )
    rating = SuggestionRating.objects.get()
    assert (rating.run_id, rating.user_id, rating.rating, rating.comment) == (
        run.pk,
        seller.pk,
        SuggestionRating.Rating.DOWN,
        COMMENT,
    )
    outcome = PrefillOutcome.objects.get()
    assert outcome.run_id == run.pk
    assert outcome.status == PrefillOutcome.Status.PUBLISHED
    assert outcome.listing_id == listing.pk
    assert outcome.fields_changed == 2
    assert outcome.seconds_to_publish is not None
    corrections = FieldCorrection.objects.filter(
        outcome=outcome, stage=FieldCorrection.Stage.PUBLISH
    )
    assert sorted(c.field for c in corrections) == sorted(FIELDS)
    changed = {c.field: (c.suggested, c.final) for c in corrections if c.changed}
    assert changed == {"category": ("home-kitchen", "furniture"), "price_eur": (1250.0, 950.0)}

    # --- Staff: the report, by variant over the default range (the last 30 days). ---
    admin = new_page()
    admin.goto("/admin/login/?next=" + REPORT_URL)
    admin.get_by_label("Username").fill(reader.username)
    admin.get_by_label("Password").fill("pw-" + reader.username)
    admin.get_by_role("button", name="Log in").click()
    expect(admin).to_have_url(re.compile(re.escape(REPORT_URL) + "$"))
    expect(admin.get_by_role("heading", level=1)).to_have_text("Feedback report")

    today = timezone.localdate()
    start = today - timedelta(days=29)
    expect(admin.get_by_label("From", exact=True)).to_have_value(start.isoformat())
    expect(admin.get_by_label("To", exact=True)).to_have_value(today.isoformat())
    expect(admin.get_by_label(re.compile(r"^Group by"))).to_have_value("variant")
    expect(admin.locator(".report-links").first).to_have_text(
        f"Runs created {start} to {today} ({timezone.get_current_timezone_name()}), "
        "by variant (prompt version + model + provider): 1 run in 1 group."
    )

    run.refresh_from_db()
    variant = f"{run.prompt_version.label} · {run.provider}/{run.model}"

    # Headline figures: the variant's row, then the "All" row, each with the same numbers.
    headline = table_after(admin, "Headline figures")
    expect(headline.locator("tbody tr th")).to_have_text([variant, "All"])
    for row in headline.locator("tbody tr").all():
        cells = row_cells(row)
        # runs, succeeded, failure rate, published, abandoned, abandonment, thumbs up / down,
        # thumbs-up rate, fields accepted, late corrections, median time to publish.
        assert cells[:10] == [
            "1",
            "1",
            "0.0 % 0 / 1",
            "1",
            "0",
            "0.0 % 0 / 1",
            "0 / 1",
            "0.0 % 0 / 1",
            "71.4 % 5 / 7",
            "0",
        ], cells
        assert re.fullmatch(r"\d+ s n = 1", cells[10]), cells

    # Per field: accepted, similarity and late corrections for each field, in report order.
    per_field = table_after(admin, "Per field")
    expect(per_field.locator("thead tr").first.locator("th.num")).to_have_text(FIELDS)
    expect(per_field.locator("tbody tr th")).to_have_text([variant, "All"])
    # One cell per field: accepted (kept / n), then similarity and late corrections under it.
    for row in per_field.locator("tbody tr").all():
        cells = dict(zip(FIELDS, row_cells(row), strict=True))
        for name in FIELDS:
            if name not in CORRECTED:
                assert cells[name] == "100.0 % 1 / 1 sim. 1.00 · late 0", (name, cells)
        # A different category has nothing in common; 950 for 1250: 1 - 300 / 1250.
        assert cells["category"] == "0.0 % 0 / 1 sim. 0.00 · late 0", cells
        assert cells["price_eur"] == "0.0 % 0 / 1 sim. 0.76 · late 0", cells

    # The worst cases: the thumbs-down comment, linked to its run.
    thumbs_down_table = table_after(admin, "Thumbs down with a comment")
    expect(thumbs_down_table.locator("tbody tr")).to_have_count(1)
    case = thumbs_down_table.locator("tbody tr")
    expect(case.locator("td").nth(1)).to_have_text(COMMENT)
    expect(case.locator("td").nth(2)).to_have_text(variant)
    run_link = case.get_by_role("link", name=str(run.pk)[:8])
    expect(run_link).to_have_attribute("href", f"/admin/ai_prefill/prefillrun/{run.pk}/change/")
    most_corrected = table_after(admin, "Most corrected").locator("tbody tr")
    expect(most_corrected).to_have_count(1)
    expect(most_corrected.locator("td").first).to_have_text("2 / 7")

    # The charts: Chart.js (served from npm) loaded and drew on all four canvases.
    canvases = admin.locator(".charts canvas")
    expect(canvases).to_have_count(4)
    assert admin.evaluate("typeof window.Chart") == "function"
    drawn = admin.evaluate(
        "[...document.querySelectorAll('.charts canvas')]"
        ".map((c) => Boolean(Chart.getChart(c)) && c.width > 0 && c.height > 0)"
    )
    assert drawn == [True] * 4

    # The link opens the run in admin.
    run_link.click()
    expect(admin).to_have_url(re.compile(rf"/admin/ai_prefill/prefillrun/{run.pk}/change/$"))
    expect(admin.locator("#content")).to_contain_text(str(run.pk))
