"""Prices are typed the way a European seller types them and shown one way: "12,50 €"."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from listings.models import Listing
from listings.tests.factories import ListingFactory
from marketplace.sample_images import render_item

pytestmark = pytest.mark.browser

AMBIGUOUS = (
    "Is “1,250” meant as 1.250\u00a0€? Then write 1250 or 1.250,00; "
    "for cents write a comma and two digits, like 12,50."
)


def test_seller_types_a_price_with_a_comma_and_sees_it_as_typed(page, log_in, seller, tmp_path):
    photo = tmp_path / "mug.jpg"
    photo.write_bytes(render_item(shape="mug", color="blue"))
    log_in(page, seller)
    page.goto("/sell/")
    page.get_by_label("Photo of the item").set_input_files(photo)
    page.get_by_label("Title", exact=True).fill("Desk lamp")
    page.get_by_label("Description", exact=True).fill("Bright, with a warm bulb.")
    page.get_by_label("Category").select_option(label="Home & kitchen")
    page.get_by_label("Condition").select_option(label="Good")
    page.get_by_label("Price (EUR)", exact=True).fill("12,50")
    page.get_by_role("button", name="Publish").click()

    expect(page.get_by_role("status")).to_have_text("Your listing is live.")
    listing = Listing.objects.get(seller=seller)
    assert listing.price_eur == Decimal("12.50")
    expect(page.locator(".info .price")).to_have_text("12,50\u00a0€")

    page.get_by_role("link", name="Edit").click()
    price = page.get_by_label("Price (EUR)", exact=True)
    expect(price).to_have_value("12,50")
    price.fill("1,250")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("[data-field=price_eur] .error")).to_have_text(AMBIGUOUS)
    expect(price).to_have_value("1,250")
    listing.refresh_from_db()
    assert listing.price_eur == Decimal("12.50")

    price.fill("1.250,00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Listing updated.")
    listing.refresh_from_db()
    assert listing.price_eur == Decimal("1250")
    expect(page.locator(".info .price")).to_have_text("1.250\u00a0€")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Price (EUR)", exact=True)).to_have_value("1.250,00")


def test_buyer_filters_by_prices_typed_with_commas(page):
    ListingFactory(title="Cheap mug", price_eur=Decimal("4.50"))
    ListingFactory(title="Kettle", price_eur=Decimal("12.50"))
    ListingFactory(title="Sofa", price_eur=Decimal("1250"))

    page.goto("/")
    page.get_by_label("Min €").fill("12,5")
    page.get_by_label("Max €").fill("1 250")
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"min_price=12%2C5"))
    cards = page.locator(".results .listing-card")
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="Kettle").locator(".price")).to_have_text("12,50\u00a0€")
    expect(cards.filter(has_text="Sofa").locator(".price")).to_have_text("1.250\u00a0€")
    expect(page.get_by_label("Min €")).to_have_value("12,5")


@pytest.mark.parametrize(
    ("low", "high", "reason"),
    [
        ("500", "20", "The minimum price is above the maximum."),
        ("abc", "", "Min €: Enter a price in euros, like 12,50 or 1.250,00."),
    ],
)
def test_filters_that_cannot_apply_list_nothing_and_say_why(page, low, high, reason):
    ListingFactory(title="Kettle", price_eur=Decimal("30"))
    page.goto("/")
    expect(page.locator(".results .listing-card")).to_have_count(1)
    page.get_by_label("Min €").fill(low)
    page.get_by_label("Max €").fill(high)
    page.get_by_role("button", name="Apply").click()

    problem = page.locator("#filters-invalid")
    expect(problem).to_have_role("alert")
    expect(problem).to_contain_text("No listings are shown: these filters cannot be applied.")
    expect(problem.get_by_role("listitem")).to_have_text([reason])
    expect(page.locator(".results .listing-card")).to_have_count(0)
    expect(page.locator("#result-count")).to_have_count(0)
    expect(page.get_by_label("Min €")).to_have_value(low)
    expect(page.get_by_label("Max €")).to_have_value(high)
