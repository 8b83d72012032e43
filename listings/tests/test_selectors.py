from decimal import Decimal

import pytest

from listings import selectors
from listings.models import Listing
from listings.selectors import ListingFilters
from listings.tests.factories import ConversationFactory, ListingFactory, MessageFactory

pytestmark = pytest.mark.django_db


def _titles(**filters):
    return [
        listing.title for listing in selectors.listing_search(filters=ListingFilters(**filters))
    ]


@pytest.fixture
def catalog():
    ListingFactory(
        title="Red road bike",
        description="Carbon frame",
        category="bikes",
        price_eur=Decimal("900"),
    )
    ListingFactory(
        title="Kids bike",
        description="With stabilisers",
        category="bikes",
        price_eur=Decimal("60"),
        condition="fair",
    )
    ListingFactory(
        title="Office chair",
        description="Mesh back, good for a bike commuter's desk",
        category="furniture",
        price_eur=Decimal("40"),
    )
    ListingFactory(title="Old bike sold", category="bikes", status=Listing.Status.SOLD)
    # fmt: skip


def test_search_matches_title_and_description_of_active_listings_only(catalog):
    assert sorted(_titles(q="bike")) == ["Kids bike", "Office chair", "Red road bike"]


def test_search_needs_every_word(catalog):
    assert _titles(q="road bike") == ["Red road bike"]
    assert _titles(q="carbon") == ["Red road bike"]
    assert _titles(q="spaceship") == []


@pytest.fixture
def plurals():
    for title in ("Office chair", "Compact camera", "Shoe box", "Spare battery", "Glass vase"):
        ListingFactory(title=title, description="As pictured.")


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("chairs", ["Office chair"]),
        ("cameras", ["Compact camera"]),
        ("boxes", ["Shoe box"]),
        ("batteries", ["Spare battery"]),
        ("glasses", ["Glass vase"]),
        ("camera's", ["Compact camera"]),
        ("chair", ["Office chair"]),
    ],
)
def test_search_finds_the_singular_from_the_plural(plurals, query, titles):
    # Runs on the test database: PostgreSQL's 'english' configuration or SQLite's word_stem.
    assert _titles(q=query) == titles


@pytest.mark.parametrize(
    ("query", "titles"),
    [
        ("chairs", ["Office chair"]),
        ("cameras", ["Compact camera"]),
        ("batteries", ["Spare battery"]),
    ],
)
def test_word_search_without_full_text_finds_the_singular_from_the_plural(plurals, query, titles):
    # The SQLite branch, on whichever database the tests use.
    qs = selectors._words_search(Listing.objects.all(), query)
    assert [listing.title for listing in qs] == titles


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("chairs", "chair"),
        ("Cameras", "camera"),
        ("boxes", "box"),
        ("watches", "watch"),
        ("glasses", "glass"),
        ("batteries", "batter"),
        ("battery", "batter"),
        ("shoes", "shoe"),
        ("chair", "chair"),
        ("glass", "glass"),
        ("toy", "toy"),
        ("bus", "bus"),  # no cut leaves fewer than 3 letters
        ("anna's", "anna"),
    ],
)
def test_word_stem(word, stem):
    assert selectors.word_stem(word) == stem
    assert word.lower().startswith(stem)  # a word never finds less than it did unstemmed


def test_filters_combine(catalog):
    assert sorted(_titles(category="bikes")) == ["Kids bike", "Red road bike"]
    assert _titles(category="bikes", condition="fair") == ["Kids bike"]
    assert _titles(min_price=Decimal("50"), max_price=Decimal("100")) == ["Kids bike"]


def test_sorts(catalog):
    assert _titles(sort="price_asc") == ["Office chair", "Kids bike", "Red road bike"]
    assert _titles(sort="price_desc") == ["Red road bike", "Kids bike", "Office chair"]
    assert _titles(sort="newest")[0] == "Office chair"
    assert _titles(sort="no-such-sort")[0] == "Office chair"  # unknown sort falls back to newest


def test_inbox_lists_conversations_of_both_roles_with_unread_counts(seller, buyer, other_seller):
    mine = ListingFactory(seller=seller)
    theirs = ListingFactory(seller=other_seller)
    as_seller = ConversationFactory(listing=mine, buyer=buyer)
    MessageFactory(conversation=as_seller, sender=buyer)
    MessageFactory(conversation=as_seller, sender=buyer)
    as_buyer = ConversationFactory(listing=theirs, buyer=seller)
    MessageFactory(conversation=as_buyer, sender=seller)
    ConversationFactory(listing=theirs, buyer=buyer)  # not the seller's business

    inbox = {c.pk: c.unread_count for c in selectors.conversation_list_for_user(user=seller)}
    assert inbox == {as_seller.pk: 2, as_buyer.pk: 0}


def test_conversation_is_readable_by_its_two_parties_only(seller, buyer, other_seller):
    convo = ConversationFactory(listing=ListingFactory(seller=seller), buyer=buyer)
    assert selectors.conversation_get_for_participant(pk=convo.pk, user=seller) == convo
    assert selectors.conversation_get_for_participant(pk=convo.pk, user=buyer) == convo
    assert selectors.conversation_get_for_participant(pk=convo.pk, user=other_seller) is None
