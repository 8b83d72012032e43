"""A seller in an experiment arm sells an item, and their sell session is measured: with the AI
(the offline baseline provider as the arm's configuration) and in the "no AI" arm (the plain
form). Celery runs in-process, so the baseline's draft is ready at the page's first poll."""

import re

import pytest
from playwright.sync_api import expect

from ai_prefill.models import PrefillRun
from experiments.models import Exposure
from feedback.models import SellSession
from listings.models import Listing
from listings.tests.factories import baseline_arm_payload, experiment_running, seller_in_arm
from marketplace.sample_images import render_item

pytestmark = pytest.mark.browser


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "ball.jpg"
    path.write_bytes(render_item(shape="ball", color="red"))
    return path


def session_event(event: str):
    """Matches the page's answered POST of that event to its sell session."""

    def matches(response) -> bool:
        request = response.request
        return (
            request.method == "POST"
            and re.search(r"/api/sell-sessions/[0-9a-f-]{36}/events/$", response.url) is not None
            and f'"event":"{event}"' in (request.post_data or "")
        )

    return matches


def open_sell(page, log_in, seller) -> SellSession:
    log_in(page, seller)
    page.goto("/sell/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sell an item")
    session_id = page.locator("#sell-form").get_attribute("data-sell-session")
    expect(page.locator('#sell-form input[name="sell_session"]')).to_have_value(session_id)
    return SellSession.objects.get(pk=session_id, user=seller)


def fill_if_empty(page, label: str, value: str) -> None:
    box = page.get_by_label(label)
    if not box.input_value():
        box.fill(value)


def publish(page) -> Listing:
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Your listing is live.")
    listing = Listing.objects.get()
    expect(page).to_have_url(re.compile(rf"/listings/{listing.pk}/$"))
    return listing


def assert_published(session: SellSession, listing: Listing) -> None:
    session.refresh_from_db()
    assert session.status == SellSession.Status.PUBLISHED
    assert session.listing_id == listing.pk
    assert session.published_at == listing.created_at
    expected = (listing.created_at - session.opened_at).total_seconds()
    assert session.seconds_to_publish == pytest.approx(expected)
    assert session.seconds_to_publish > 0
    assert session.opened_at < session.photo_chosen_at < session.published_at


def test_a_seller_in_an_ai_arm_sees_the_draft_and_the_session_records_it(page, log_in, photo):
    experiment = experiment_running(variant=baseline_arm_payload())
    seller = seller_in_arm(experiment, "variant")
    variant = experiment.arms.get(key="variant")
    session = open_sell(page, log_in, seller)
    expect(page.locator("#sell-form")).to_have_attribute("data-ai", "on")
    assert (session.experiment, session.arm) == (experiment, variant)

    with (
        page.expect_response(session_event("photo_chosen")) as chosen,
        page.expect_response(session_event("draft_shown")) as shown,
    ):
        page.get_by_label("Photo of the item").set_input_files(photo)
        expect(page.locator("#prefill-status")).to_have_class(re.compile(r"\bdone\b"))
    assert (chosen.value.status, shown.value.status) == (204, 204)
    run = PrefillRun.objects.get(user=seller)
    assert (run.provider, run.arm) == ("baseline", variant)
    assert run.status == PrefillRun.Status.SUCCEEDED
    assert f'"run":"{run.pk}"' in shown.value.request.post_data
    expect(page.locator("#sell-form .field.suggested").first).to_be_visible()

    # The baseline suggests category, condition and colour; the seller writes the rest.
    fill_if_empty(page, "Title", "Red ball")
    fill_if_empty(page, "Description", "A red ball, hardly used.")
    fill_if_empty(page, "Price (EUR)", "5")
    listing = publish(page)

    assert listing.prefill_run == run
    assert_published(session, listing)
    assert session.photo_chosen_at <= session.draft_shown_at < session.published_at
    assert session.run == run
    exposure = Exposure.objects.get(session_id=session.pk)
    assert (exposure.experiment, exposure.arm, exposure.user) == (experiment, variant, seller)


def test_a_seller_in_the_no_ai_arm_gets_the_plain_form_and_is_measured_alike(page, log_in, photo):
    experiment = experiment_running(variant={"ai": "off"})
    seller = seller_in_arm(experiment, "variant")
    asked_for_ai = []
    page.on("request", lambda r: asked_for_ai.append(r.url) if "/api/prefill" in r.url else None)
    session = open_sell(page, log_in, seller)

    form = page.locator("#sell-form")
    expect(form).to_have_attribute("data-ai", "off")
    expect(page.locator("#prefill-status")).to_have_count(0)
    expect(page.locator("#suggestion-rating")).to_have_count(0)
    expect(form).not_to_have_attribute("data-prefill-url", re.compile(".*"))

    with page.expect_response(session_event("photo_chosen")) as chosen:
        page.get_by_label("Photo of the item").set_input_files(photo)
    assert chosen.value.status == 204
    expect(page.locator("#photo-preview")).to_be_visible()
    expect(form.locator(".field.suggested")).to_have_count(0)
    page.get_by_label("Title").fill("Red ball")
    page.get_by_label("Description").fill("A red ball, hardly used.")
    page.get_by_label("Category").select_option(label="Sports & outdoors")
    page.get_by_label("Condition").select_option(label="Good")
    page.get_by_label("Price (EUR)").fill("5")
    listing = publish(page)

    # The photo went up with the form, as an ordinary file field.
    assert listing.prefill_run is None
    expect(page.get_by_role("img", name="Red ball")).to_have_attribute("src", listing.photo.url)
    assert_published(session, listing)
    assert session.draft_shown_at is None and session.run is None
    assert not PrefillRun.objects.exists()
    assert asked_for_ai == []
    assert Exposure.objects.get(session_id=session.pk).arm.key == "variant"
