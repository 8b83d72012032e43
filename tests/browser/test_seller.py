"""A new seller signs up and puts an item on sale; a bad photo is refused without losing work."""

import re

import pytest
from playwright.sync_api import expect

from listings.models import Listing
from marketplace.sample_images import render_item

pytestmark = pytest.mark.browser

ITEM = {
    "Title": "Blue armchair with footstool",
    "Description": "Comfortable reading chair.\nThe footstool is included.",
    "Brand": "Hjemmet",
    "Color": "blue",
    "Price (EUR)": "1250",
}
NOT_AN_IMAGE = (
    "This file is not an image we can read. Please upload a JPEG, PNG, WEBP or HEIC photo."
)


def fill_details(page) -> None:
    for label, value in ITEM.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Category").select_option(label="Furniture")
    page.get_by_label("Condition").select_option(label="Like new")


def test_new_seller_signs_up_and_publishes_a_listing(page, tmp_path, django_user_model):
    photo = tmp_path / "armchair.jpg"
    photo.write_bytes(render_item(shape="chair", color="blue"))

    page.goto("/")
    page.get_by_role("banner").get_by_role("link", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your Trova account")
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Name shown to buyers").fill("Dora Maker")
    page.get_by_label("Email").fill("dora@example.com")
    page.get_by_label("Password", exact=True).fill("armchair-Lagoon-77")
    page.get_by_label("Password confirmation").fill("armchair-Lagoon-77")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("button", name="Log out (Dora Maker)")).to_be_visible()
    dora = django_user_model.objects.get(username="dora")
    assert dora.email == "dora@example.com"

    page.get_by_role("banner").get_by_role("link", name="Sell").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sell an item")
    page.get_by_label("Photo of the item").set_input_files(photo)
    expect(page.locator("#photo-preview")).to_be_visible()
    fill_details(page)
    page.get_by_role("button", name="Publish").click()

    expect(page.get_by_role("status")).to_have_text("Your listing is live.")
    listing = Listing.objects.get(seller=dora)
    expect(page).to_have_url(re.compile(rf"/listings/{listing.pk}/$"))
    assert (listing.title, listing.category, listing.condition, listing.brand, listing.color) == (
        ITEM["Title"],
        "furniture",
        "like-new",
        "Hjemmet",
        "blue",
    )
    # Browsers submit textarea line breaks as CRLF; the form stores plain newlines.
    assert listing.description == ITEM["Description"]
    assert listing.price_eur == 1250
    assert listing.status == Listing.Status.ACTIVE
    expect(page.get_by_role("heading", level=1)).to_have_text(ITEM["Title"])
    assert page.locator(".info .price").text_content() == "1.250\u00a0€"
    expect(page.locator(".facts dd.seller")).to_have_text("Dora Maker")
    expect(page.locator(".description br")).to_have_count(1)
    assert page.locator(".description").inner_text() == ITEM["Description"]
    expect(page.get_by_role("img", name=ITEM["Title"])).to_have_attribute("src", listing.photo.url)
    # The seller sees their own listing: Edit, and no contact form.
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
    expect(page.get_by_role("button", name="Send message")).to_have_count(0)

    page.get_by_role("banner").get_by_role("link", name="My listings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My listings")
    rows = page.locator("#my-listings tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_role("cell")).to_have_text(
        ["", ITEM["Title"], "1.250 €", "Active", "0", re.compile(r"Edit\s+Mark as sold\s+Delete")]
    )

    page.get_by_role("link", name="Trova", exact=True).click()
    card = page.locator(".results .listing-card").filter(has_text=ITEM["Title"])
    expect(card).to_have_count(1)
    expect(card.get_by_role("img", name=ITEM["Title"])).to_have_attribute(
        "src", listing.thumbnail.url
    )
    expect(card.locator(".price")).to_have_text("1.250 €")


def test_a_text_file_named_jpg_is_refused_and_the_typed_details_are_kept(
    page, log_in, seller, tmp_path
):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("These are my holiday notes, not a photo.\n")

    log_in(page, seller)
    page.goto("/sell/")
    page.get_by_label("Photo of the item").set_input_files(fake)
    fill_details(page)
    page.get_by_role("button", name="Publish").click()

    expect(page.get_by_role("alert")).to_have_text(NOT_AN_IMAGE)
    expect(page.locator("[data-field=photo]")).to_contain_text(NOT_AN_IMAGE)
    expect(page).to_have_url(re.compile(r"/sell/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sell an item")
    for label, value in ITEM.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Category")).to_have_value("furniture")
    expect(page.get_by_label("Condition")).to_have_value("like-new")
    assert not Listing.objects.exists()
