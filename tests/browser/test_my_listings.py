"""My listings: every column has a header, every row's cells line up, and a sold item can be put
back on sale."""

import pytest
from playwright.sync_api import expect

from listings.models import Listing
from listings.tests.factories import ListingFactory

pytestmark = pytest.mark.browser


def assert_rows_line_up(page) -> None:
    for row in page.locator("#my-listings tbody tr").all():
        boxes = [cell.bounding_box() for cell in row.get_by_role("cell").all()]
        assert len(boxes) == 6
        tops = {round(box["y"]) for box in boxes}
        bottoms = {round(box["y"] + box["height"]) for box in boxes}
        assert len(tops) == 1 and len(bottoms) == 1, boxes


def test_seller_relists_a_sold_item_from_my_listings(page, log_in, seller):
    sold = ListingFactory(seller=seller, title="Road bike", status=Listing.Status.SOLD)
    ListingFactory(seller=seller, title="Desk lamp")
    log_in(page, seller)
    page.goto("/my/listings/")

    table = page.locator("#my-listings")
    expect(table.get_by_role("columnheader")).to_have_text(
        ["Photo", "Title", "Price", "Status", "Messages", "Actions"]
    )
    assert_rows_line_up(page)
    row = table.get_by_role("row").filter(has_text="Road bike")
    expect(row.get_by_role("cell").nth(3)).to_have_text("Sold")
    expect(row.get_by_role("button", name="Mark as sold")).to_have_count(0)

    row.get_by_role("button", name="Put back on sale").click()

    expect(page.get_by_role("status")).to_have_text("“Road bike” is back on sale.")
    sold.refresh_from_db()
    assert sold.status == Listing.Status.ACTIVE and sold.sold_at is None
    row = page.locator("#my-listings").get_by_role("row").filter(has_text="Road bike")
    expect(row.get_by_role("cell").nth(3)).to_have_text("Active")
    expect(row.get_by_role("button", name="Mark as sold")).to_be_visible()
    expect(row.get_by_role("button", name="Put back on sale")).to_have_count(0)
    assert_rows_line_up(page)
