"""Required fields are marked where people see them, and announced by assistive technology."""

import pytest
from playwright.sync_api import expect

from listings.tests.factories import ListingFactory

pytestmark = pytest.mark.browser

REQUIRED = {
    "title": "Title",
    "description": "Description",
    "category": "Category",
    "condition": "Condition",
    "price_eur": "Price (EUR)",
}
OPTIONAL = {"brand": "Brand", "color": "Color"}


CONTROLS = {"textbox", "combobox", "button", "spinbutton"}


def accessibility_tree(page) -> dict[str, dict]:
    """Chromium's own accessibility tree, as a screen reader gets it: a control's name -> its
    properties (`required`) and its `description`."""
    nodes = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    return {
        node["name"]["value"]: {
            **{prop["name"]: prop["value"].get("value") for prop in node["properties"]},
            "description": node.get("description", {}).get("value", ""),
        }
        for node in nodes
        if node.get("name", {}).get("value") and node.get("role", {}).get("value") in CONTROLS
    }


def star(mark) -> str:
    return mark.evaluate("el => getComputedStyle(el, '::before').content")


def assert_marked(page, fields: dict, *, marked: bool) -> None:
    tree = accessibility_tree(page)
    for name, label in fields.items():
        mark = page.locator(f"[data-field={name}] label .required-mark")
        if marked:
            expect(mark).to_be_visible()
            assert star(mark) == '"*" / ""', label
        else:
            expect(mark).to_have_count(0)
        # The star is for the eye only: the field's name stays its label, and its state says it.
        control = page.get_by_label(label, exact=True)
        expect(control).to_have_accessible_name(label)
        if control.evaluate("el => el.tagName") == "SELECT":
            # Chromium's tree leaves out a <select>'s required state; the attribute carries it.
            assert (control.get_attribute("required") is not None) is marked, label
        else:
            assert tree[label].get("required", False) is marked, (label, tree[label])


def test_sell_and_edit_mark_the_required_fields(page, log_in, seller):
    log_in(page, seller)
    page.goto("/sell/")
    expect(page.locator("#details-step .required-note")).to_have_text("required")
    assert_marked(page, REQUIRED, marked=True)
    assert_marked(page, OPTIONAL, marked=False)
    assert star(page.locator("[data-field=photo] label .required-mark")) == '"*" / ""'
    photo = accessibility_tree(page)["Photo of the item"]
    assert photo["description"].startswith("Required. JPEG"), photo

    listing = ListingFactory(seller=seller)
    page.goto(f"/listings/{listing.pk}/edit/")
    expect(page.locator("form .required-note")).to_have_text("required")
    assert_marked(page, REQUIRED, marked=True)
    assert_marked(page, OPTIONAL, marked=False)
    expect(page.locator("[data-field=photo] label .required-mark")).to_have_count(0)


def test_a_form_without_required_fields_has_no_marks(page):
    page.goto("/")
    expect(page.locator("#filters .required-mark")).to_have_count(0)
    expect(page.locator("#filters .required-note")).to_have_count(0)
