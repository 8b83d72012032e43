"""A buyer finds a listing, writes to the seller, and the seller answers from the inbox."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.conf import settings
from playwright.sync_api import expect

from listings.models import Conversation, Listing
from listings.tests.factories import ListingFactory
from marketplace.taxonomy import Category

pytestmark = pytest.mark.browser

LISTED_AT = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)


def card_titles(page) -> list[str]:
    return page.locator(".results .listing-card .title").all_inner_texts()


def test_buyer_finds_contacts_seller_and_seller_replies(
    new_page, log_in, buyer, seller, other_seller, mailoutbox
):
    furniture = Category.FURNITURE
    wanted = ListingFactory(
        seller=seller,
        title="Vintage oak bookshelf",
        description="Five shelves, solid wood, small scratch on the side.",
        category=furniture,
        price_eur=Decimal("1250.00"),
    )
    too_dear = ListingFactory(
        seller=other_seller, title="Oak dining table", category=furniture, price_eur=2400
    )
    too_cheap = ListingFactory(
        seller=other_seller, title="Oak wardrobe", category=furniture, price_eur=900
    )
    other_category = ListingFactory(
        seller=other_seller, title="Oak wine rack", category=Category.HOME, price_eur=1100
    )
    other_word = ListingFactory(
        seller=other_seller, title="Pine bookshelf", category=furniture, price_eur=1200
    )
    sold = ListingFactory(
        seller=other_seller,
        title="Oak writing desk",
        category=furniture,
        price_eur=1500,
        status=Listing.Status.SOLD,
    )
    Listing.objects.filter(pk=wanted.pk).update(created_at=LISTED_AT)

    page = new_page()
    log_in(page, buyer)

    # Search from the box at the top of every page.
    search = page.get_by_role("searchbox", name="Search")
    search.fill("oak")
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/\?q=oak$"))
    expect(page.locator("#result-count")).to_have_text("4 listings")
    assert sorted(card_titles(page)) == sorted(
        [wanted.title, too_dear.title, too_cheap.title, other_category.title]
    )
    assert other_word.title not in card_titles(page)
    assert sold.title not in card_titles(page)

    # Narrow down on the browse page: category and a price range.
    filters = page.locator("#filters")
    expect(filters.get_by_role("textbox", name="Search")).to_have_value("oak")
    filters.get_by_label("Category").select_option(label="Furniture")
    filters.get_by_label("Min €").fill("1000")
    filters.get_by_label("Max €").fill("2000")
    filters.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"category=furniture.*min_price=1000.*max_price=2000"))
    expect(page.locator("#result-count")).to_have_text("1 listing")
    assert card_titles(page) == [wanted.title]
    card = page.locator(".listing-card").filter(has_text=wanted.title)
    expect(card.get_by_role("img", name=wanted.title)).to_have_attribute(
        "src", wanted.thumbnail.url
    )

    # The listing page.
    card.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/listings/{wanted.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(wanted.title)
    # Exact text: Playwright's text matchers would turn the no-break space into a plain one.
    assert page.locator(".info .price").text_content() == "1.250\u00a0€"
    expect(page.locator(".facts dd.seller")).to_have_text("Alice Seller")
    expect(page.locator(".facts dt:text-is('Listed') + dd")).to_have_text("14 March 2025")
    expect(page.get_by_role("img", name=wanted.title)).to_have_attribute("src", wanted.photo.url)

    # Contact the seller.
    question = "Hello! Is the bookshelf still available? I could pick it up on Saturday."
    page.get_by_label("Message").fill(question)
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_role("status")).to_have_text(
        "Message sent. The seller will get an email about it."
    )
    conversation = Conversation.objects.get(listing=wanted, buyer=buyer)
    expect(page).to_have_url(re.compile(rf"/inbox/{conversation.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"About {wanted.title}")
    chat = page.locator("ol.chat > li")
    expect(chat).to_have_count(1)
    expect(chat.first.locator("strong")).to_have_text("Carol Buyer")
    expect(chat.first.locator(".body")).to_have_text(question)

    conversation_url = settings.SITE_URL.rstrip("/") + f"/inbox/{conversation.pk}/"
    assert len(mailoutbox) == 1
    to_seller = mailoutbox[0]
    assert to_seller.to == ["alice@example.com"]
    assert to_seller.subject == f"New message about “{wanted.title}” on Trova"
    assert question in to_seller.body
    assert conversation_url in to_seller.body

    # The seller, in another browser context, answers from the inbox.
    seller_page = new_page()
    log_in(seller_page, seller)
    seller_page.get_by_role("banner").get_by_role("link", name="Inbox").click()
    expect(seller_page.get_by_role("heading", level=1)).to_have_text("Inbox")
    entry = seller_page.locator("ul.inbox > li")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(wanted.title)
    expect(entry).to_contain_text("from buyer Carol Buyer")
    expect(entry.locator(".badge")).to_have_text("1 new")
    entry.get_by_role("link").click()
    expect(seller_page).to_have_url(re.compile(rf"/inbox/{conversation.pk}/$"))
    expect(seller_page.locator("ol.chat > li .body")).to_have_text([question])

    answer = "Yes, it is. Saturday morning works for me."
    seller_page.get_by_label("Message").fill(answer)
    seller_page.get_by_role("button", name="Reply").click()
    expect(seller_page.locator("ol.chat > li .body")).to_have_text([question, answer])
    expect(seller_page.locator("ol.chat > li strong")).to_have_text(["Carol Buyer", "Alice Seller"])

    assert len(mailoutbox) == 2
    to_buyer = mailoutbox[1]
    assert to_buyer.to == ["carol@example.com"]
    assert answer in to_buyer.body
    assert conversation_url in to_buyer.body

    # The buyer sees the answer in the same conversation.
    page.reload()
    expect(page.locator("ol.chat > li .body")).to_have_text([question, answer])


PHONE = {"width": 390, "height": 844}


def test_filters_fold_above_the_results_on_a_phone(new_page):
    ListingFactory(title="Office chair", category=Category.FURNITURE)
    phone = new_page()
    phone.set_viewport_size(PHONE)
    phone.goto("/")
    category = phone.locator("#filters").get_by_label("Category")
    expect(category).to_be_hidden()
    card = phone.locator(".listing-card").first
    expect(card).to_be_in_viewport()
    assert card.bounding_box()["y"] < PHONE["height"] / 2  # the results come first

    phone.get_by_text("Filters", exact=True).click()
    expect(category).to_be_visible()
    category.select_option(label="Furniture")
    phone.get_by_role("button", name="Apply").click()
    # A filter is on: it stays in sight, so the buyer sees why the results are what they are.
    expect(phone).to_have_url(re.compile(r"category=furniture"))
    expect(category).to_be_visible()
    expect(category).to_have_value("furniture")

    phone.goto("/?q=chair")  # search words alone are in the search box at the top
    expect(category).to_be_hidden()
    phone.goto("/?min_price=abc")  # so is a filter with an error, to show the error
    expect(category).to_be_visible()


def test_filters_are_open_beside_the_results_on_a_wide_screen(new_page):
    ListingFactory(title="Office chair")
    wide = new_page()
    wide.set_viewport_size({"width": 1280, "height": 800})
    wide.goto("/")
    expect(wide.locator("#filters").get_by_label("Category")).to_be_visible()
