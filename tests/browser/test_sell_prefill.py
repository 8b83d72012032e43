"""The AI pre-fill on the Sell page, as a seller sees it, against the fake OpenAI server.

Celery runs in-process here, so POST /api/prefill/ makes the AI call inside the request (after
commit) and the page's first poll already finds the run finished or failed.
"""

import base64
import io
import re
from time import monotonic as clock

import pytest
from PIL import Image
from playwright.sync_api import expect

from ai_prefill.models import PrefillRun
from listings.models import Listing
from marketplace.sample_images import render_item
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.browser

DRAFT = {
    "title": "Blue armchair with footstool",
    "description": "A blue fabric armchair with its matching footstool. Light wear on the arms.",
    "category": "furniture",
    "condition": "like-new",
    "brand": "Hjemmet",
    "color": "blue",
    "price_eur": 1250.0,
}
# What each field of the Sell form shows once the draft is in (the price input shows cents).
SHOWN = {
    "title": DRAFT["title"],
    "description": DRAFT["description"],
    "category": "furniture",
    "condition": "like-new",
    "brand": "Hjemmet",
    "color": "blue",
    "price_eur": "1.250,00",
}
DRAFT_FIELDS = list(SHOWN)
WORKING = "Reading your photo… the details will appear here in a few seconds."
DONE = re.compile(r"^Suggested 7 fields from your photo \(marked “AI suggestion”\)\.")
FAILED = (
    "We could not suggest details for this photo this time. "
    "Please fill in the form; your photo is kept."
)
LATE = re.compile(r"^This is taking longer than usual\. Go ahead and fill in the details;")
NOT_AN_IMAGE = (
    "This file is not an image we can read. Please upload a JPEG, PNG, WEBP or HEIC photo."
)


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "armchair.jpg"
    path.write_bytes(render_item(shape="chair", color="blue"))
    return path


def field(page, name):
    """The `.field` box of one form field (it carries the `suggested` mark)."""
    return page.locator(f"#sell-form [data-field={name}]")


def control(page, name):
    return page.locator(f'#sell-form [name="{name}"]')


def status(page):
    return page.locator("#prefill-status")


def status_note(page):
    return status(page).locator(".message")


def suggestion_badge(page, name) -> str:
    """The badge the seller sees after a field's label ("AI suggestion", or none)."""
    label = field(page, name).locator("label")
    return label.evaluate("el => getComputedStyle(el, '::after').content")


def open_sell(page, log_in, user) -> None:
    log_in(page, user)
    page.goto("/sell/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sell an item")
    expect(status(page)).to_be_hidden()


def assert_draft_shown(page, names) -> None:
    for name in names:
        expect(control(page, name)).to_have_value(SHOWN[name])
        expect(field(page, name)).to_have_class(re.compile(r"\bsuggested\b"))
        # The visible badge, then its text for screen readers (CSS content alt text).
        assert suggestion_badge(page, name) == '"AI suggestion" / ", AI suggestion"', name


def assert_photo_not_uploaded_again(request, run) -> None:
    """The Sell form post names the run and carries no file: the photo went up only once.

    Chromium leaves file parts out of the post data it reports (a post with the photo shows an
    empty body), so the reported body must account for every byte the browser sent.
    """
    body = request.post_data_buffer or b""
    assert int(request.all_headers()["content-length"]) == len(body), "a part is not shown"
    assert f'name="prefill_run"\r\n\r\n{run.pk}\r\n'.encode() in body
    assert b'name="photo"' not in body
    assert b"filename=" not in body


def test_the_ai_fills_the_form_and_the_seller_publishes_without_uploading_twice(
    page, log_in, seller, photo, fake_openai, settings
):
    # A little latency, so the seller gets to see the working note.
    fake_openai.script(Behaviour.success(draft=DRAFT).delayed(0.5))
    open_sell(page, log_in, seller)

    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(page.locator("#photo-preview")).to_be_visible()
    expect(status(page)).to_have_class(re.compile(r"\bworking\b"))
    expect(status_note(page)).to_have_text(WORKING)

    expect(status(page)).to_have_class(re.compile(r"\bdone\b"))
    expect(status_note(page)).to_have_text(DONE)
    assert_draft_shown(page, DRAFT_FIELDS)
    expect(page.locator("#sell-form .field.suggested")).to_have_count(len(DRAFT_FIELDS))
    expect(page.locator("#sell-form .field.has-error")).to_have_count(0)
    run = PrefillRun.objects.get(user=seller)
    expect(control(page, "prefill_run")).to_have_value(str(run.pk))

    # The seller corrects the title: it is theirs now, the other suggestions keep their mark.
    own_title = "Blue armchair + footstool, barely used"
    control(page, "title").fill(own_title)
    expect(field(page, "title")).not_to_have_class(re.compile(r"\bsuggested\b"))
    assert suggestion_badge(page, "title") == "none"
    expect(page.locator("#sell-form .field.suggested")).to_have_count(len(DRAFT_FIELDS) - 1)

    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/sell/")) as posted:
        page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Your listing is live.")

    listing = Listing.objects.get(seller=seller)
    expect(page).to_have_url(re.compile(rf"/listings/{listing.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(own_title)
    assert page.locator(".info .price").text_content() == "1.250\u00a0€"
    facts = page.locator(".facts")
    expect(facts.locator("dt")).to_have_text(
        ["Category", "Condition", "Brand", "Color", "Seller", "Listed"]
    )
    expect(facts.locator("dd").nth(0)).to_have_text("Furniture")
    expect(facts.locator("dd").nth(1)).to_have_text("Like new")
    expect(facts.locator("dd").nth(2)).to_have_text("Hjemmet")
    expect(facts.locator("dd").nth(3)).to_have_text("blue")
    expect(page.locator(".description")).to_have_text(DRAFT["description"])
    expect(page.get_by_role("img", name=own_title)).to_have_attribute("src", listing.photo.url)

    assert_photo_not_uploaded_again(posted.value, run)

    listing.refresh_from_db()
    run.refresh_from_db()
    assert listing.prefill_run == run
    assert run.status == PrefillRun.Status.SUCCEEDED
    assert run.draft == DRAFT
    assert (listing.title, listing.description) == (own_title, DRAFT["description"])
    assert (listing.category, listing.condition, listing.brand, listing.color) == (
        "furniture",
        "like-new",
        "Hjemmet",
        "blue",
    )
    assert listing.price_eur == 1250
    # The listing's photo is a public copy of the one the AI saw.
    with listing.photo.open("rb") as public, run.photo.open("rb") as private:
        assert public.read() == private.read()

    # The model got the photo itself (a JPEG, shrunk for the model), once.
    assert fake_openai.counts == {"/v1/responses": 1}
    image_part = fake_openai.requests[0].body["input"][0]["content"][1]
    assert image_part["type"] == "input_image"
    prefix = "data:image/jpeg;base64,"
    assert image_part["image_url"].startswith(prefix)
    sent = base64.b64decode(image_part["image_url"].removeprefix(prefix))
    with Image.open(io.BytesIO(sent)) as image:
        assert image.format == "JPEG"
        assert max(image.size) <= settings.AI_IMAGE_MAX_SIDE


@pytest.mark.parametrize(
    "behaviour",
    [Behaviour.server_error(), Behaviour.refusal("I can't describe this photo.")],
    ids=["server-error", "refusal"],
)
def test_when_the_ai_fails_the_seller_fills_the_form_and_keeps_the_photo(
    page, log_in, seller, photo, fake_openai, settings, behaviour
):
    settings.AI_MAX_ATTEMPTS = 1  # fail at once: no retries in-process
    fake_openai.default = behaviour
    open_sell(page, log_in, seller)

    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(status(page)).to_have_class(re.compile(r"\bfailed\b"))
    expect(status_note(page)).to_have_text(FAILED)
    expect(page.locator("#sell-form .field.suggested")).to_have_count(0)
    for name in DRAFT_FIELDS:
        expect(control(page, name)).to_have_value("")
    run = PrefillRun.objects.get(user=seller)
    expect(control(page, "prefill_run")).to_have_value(str(run.pk))

    page.get_by_label("Title").fill("Blue armchair")
    page.get_by_label("Description").fill("Comfortable reading chair.")
    page.get_by_label("Category").select_option(label="Furniture")
    page.get_by_label("Condition").select_option(label="Good")
    page.get_by_label("Price (EUR)").fill("90")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/sell/")) as posted:
        page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Your listing is live.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Blue armchair")

    listing = Listing.objects.get(seller=seller)
    expect(page).to_have_url(re.compile(rf"/listings/{listing.pk}/$"))
    run.refresh_from_db()
    assert run.status == PrefillRun.Status.FAILED
    assert listing.prefill_run == run
    assert (listing.category, listing.condition, listing.price_eur) == ("furniture", "good", 90)
    assert_photo_not_uploaded_again(posted.value, run)
    with listing.photo.open("rb") as public, run.photo.open("rb") as private:
        assert public.read() == private.read()
    expect(page.get_by_role("img", name="Blue armchair")).to_have_attribute(
        "src", listing.photo.url
    )
    assert fake_openai.counts == {"/v1/responses": 1}


def test_the_page_asks_about_its_run_when_the_server_says(page, log_in, seller, photo, fake_openai):
    """poll_after_ms, not a fixed interval, decides when the page asks again."""
    fake_openai.script(Behaviour.success(draft=DRAFT))
    open_sell(page, log_in, seller)
    hint_s = 2.5  # far from the page's 0.7 s fallback
    run_url = re.compile(r"/api/prefill/[0-9a-f-]{36}/$")
    asked = []

    def first_answer_still_working(route):
        answer = route.fetch()
        asked.append(clock())
        if len(asked) > 1:
            return route.fulfill(response=answer)
        working = {"status": "running", "draft": None, "poll_after_ms": hint_s * 1000}
        return route.fulfill(response=answer, json={**answer.json(), **working})

    page.route(run_url, first_answer_still_working)
    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(status(page)).to_have_class(re.compile(r"\bdone\b"))
    assert_draft_shown(page, DRAFT_FIELDS)
    assert len(asked) == 2
    # Timers never fire early; 0.5 s allows for when the test hears of the browser's requests.
    assert asked[1] - asked[0] >= hint_s - 0.5


def test_a_phone_photo_is_shrunk_in_the_browser_before_it_goes_up(
    page, log_in, seller, fake_openai, tmp_path, settings
):
    """A 12-megapixel photo held upright goes up at the display size, upright, without EXIF."""
    fake_openai.script(Behaviour.success(draft=DRAFT))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown turned 90 degrees clockwise
    exif[0x010F] = "TrovaCam"
    noisy = Image.effect_noise((4000, 3000), 60).convert("RGB")  # compresses like a real photo
    path = tmp_path / "IMG_0001.JPG"
    noisy.save(path, "JPEG", quality=92, exif=exif)
    open_sell(page, log_in, seller)

    with page.expect_request(lambda r: r.method == "POST" and "/api/prefill/" in r.url) as sent:
        page.get_by_label("Photo of the item").set_input_files(path)
    expect(status(page)).to_have_class(re.compile(r"\bdone\b"))
    uploaded = int(sent.value.all_headers()["content-length"])
    assert uploaded < path.stat().st_size / 4, (uploaded, path.stat().st_size)

    run = PrefillRun.objects.get(user=seller)
    with run.photo.open("rb") as stored:
        photo = Image.open(io.BytesIO(stored.read()))
        assert photo.size == (1200, 1600)  # the long side the site shows, upright
        assert not photo.getexif()


def test_a_large_transparent_picture_is_shrunk_onto_white(
    page, log_in, seller, fake_openai, tmp_path
):
    """As the server flattens transparency on white, so does the browser when it shrinks."""
    fake_openai.script(Behaviour.success(draft=DRAFT))
    picture = Image.new("RGBA", (2400, 1800), (0, 0, 0, 0))
    picture.paste((200, 0, 0, 255), (800, 600, 1600, 1200))
    path = tmp_path / "cutout.png"
    picture.save(path)
    open_sell(page, log_in, seller)

    page.get_by_label("Photo of the item").set_input_files(path)
    expect(status(page)).to_have_class(re.compile(r"\bdone\b"))
    run = PrefillRun.objects.get(user=seller)
    with run.photo.open("rb") as stored:
        photo = Image.open(io.BytesIO(stored.read())).convert("RGB")
    assert photo.size == (1600, 1200)
    assert min(photo.getpixel((20, 20))) > 240  # white, not black
    assert photo.getpixel((800, 600))[0] > 180  # the red item


def test_a_late_suggestion_fills_only_what_the_seller_left_empty(
    page, log_in, seller, photo, fake_openai, settings
):
    settings.AI_PREFILL_BUDGET_SECONDS = 1
    fake_openai.script(Behaviour.success(draft=DRAFT).delayed(3))
    open_sell(page, log_in, seller)
    expect(page.locator("#sell-form")).to_have_attribute("data-budget-ms", "1000")

    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(status_note(page)).to_have_text(WORKING)
    expect(status(page)).to_have_class(re.compile(r"\blate\b"))
    expect(status_note(page)).to_have_text(LATE)

    # The seller does not wait: they type a title while the AI is still thinking.
    own_title = "My grandmother's armchair"
    page.get_by_label("Title").fill(own_title)
    assert fake_openai.wait_for_requests(1)
    assert PrefillRun.objects.get(user=seller).status == PrefillRun.Status.RUNNING

    expect(status(page)).to_have_class(re.compile(r"\bdone\b"))
    expect(status_note(page)).to_have_text(
        re.compile(r"^Suggested 6 fields from your photo \(marked “AI suggestion”\)\.")
    )
    expect(control(page, "title")).to_have_value(own_title)
    expect(field(page, "title")).not_to_have_class(re.compile(r"\bsuggested\b"))
    assert suggestion_badge(page, "title") == "none"
    others = [name for name in DRAFT_FIELDS if name != "title"]
    assert_draft_shown(page, others)
    expect(page.locator("#sell-form .field.suggested")).to_have_count(len(others))


def test_a_text_file_named_jpg_is_refused_at_once_and_a_real_photo_then_works(
    page, log_in, seller, photo, tmp_path, fake_openai
):
    fake_openai.script(Behaviour.success(draft=DRAFT))
    fake = tmp_path / "holiday.jpg"
    fake.write_text("These are my holiday notes, not a photo.\n")
    open_sell(page, log_in, seller)

    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/api/prefill/")
    ) as answered:
        page.get_by_label("Photo of the item").set_input_files(fake)
    assert answered.value.status == 400
    photo_box = field(page, "photo")
    expect(photo_box.get_by_role("alert")).to_have_text(NOT_AN_IMAGE)
    expect(photo_box).to_have_class(re.compile(r"\bhas-error\b"))
    expect(status(page)).to_have_class(re.compile(r"\bfailed\b"))
    expect(status_note(page)).to_have_text("This photo cannot be used. Please choose another one.")
    expect(control(page, "prefill_run")).to_have_value("")
    assert not PrefillRun.objects.exists()
    assert fake_openai.requests == []

    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(photo_box.get_by_role("alert")).to_have_count(0)
    expect(photo_box).not_to_have_class(re.compile(r"\bhas-error\b"))
    expect(status_note(page)).to_have_text(DONE)
    assert_draft_shown(page, DRAFT_FIELDS)
    run = PrefillRun.objects.get(user=seller)
    expect(control(page, "prefill_run")).to_have_value(str(run.pk))

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Your listing is live.")
    expect(page.get_by_role("heading", level=1)).to_have_text(DRAFT["title"])
    assert Listing.objects.get(seller=seller).prefill_run == run
