"""No N+1: list pages cost the same number of queries for 2 listings as for a full page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from listings.tests.factories import (
    ConversationFactory,
    ListingFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _listings(n: int):
    for _ in range(n):
        ListingFactory(seller=UserFactory(), category="bikes")  # a different seller each


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        ("/", {}, 2),  # COUNT for the pager + one page with sellers joined
        ("/", {"q": "item", "category": "bikes", "sort": "price_asc"}, 2),
        ("/api/listings/", {}, 2),
        ("/api/listings/", {"q": "item", "min_price": "1"}, 2),
    ],
)
def test_list_pages_run_a_constant_number_of_queries(anon_client, url, params, expected):
    _listings(2)
    few = _queries(anon_client, url, params)
    _listings(22)
    many = _queries(anon_client, url, params)
    assert few == many == expected


def test_listing_detail_is_one_query(anon_client):
    listing = ListingFactory()
    assert _queries(anon_client, listing.get_absolute_url()) == 1


def test_my_listings_and_inbox_do_not_grow_with_rows(client_for, seller):
    client = client_for(seller)

    def add_conversation():
        convo = ConversationFactory(listing=ListingFactory(seller=seller), buyer=UserFactory())
        MessageFactory(conversation=convo)

    add_conversation()
    few = (_queries(client, "/my/listings/"), _queries(client, "/inbox/"))
    for _ in range(10):
        add_conversation()
    many = (_queries(client, "/my/listings/"), _queries(client, "/inbox/"))
    assert few == many


def test_result_counts_stop_at_the_cap(anon_client, monkeypatch):
    monkeypatch.setattr("marketplace.pagination.CappedCountPaginator.max_count", 3)
    _listings(5)
    page = anon_client.get("/").content.decode()
    assert "3+ listings" in page
    # Past the cap, pages end at the cap: 10,000 newest matches, then refine the search.
    body = anon_client.get("/api/listings/").json()
    assert body["count"] == 3 and len(body["results"]) == 3
