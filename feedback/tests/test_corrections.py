"""feedback.corrections.field_change on the values sellers actually type.

What the code does with whitespace (checked here): it strips *surrounding* whitespace before
comparing, so " Red bike " -> "Red bike" is no change at all. A change of case, or of whitespace
*inside* the text, is a change, but similarity compares case- and space-normalised text, so it
scores 1.0: "changed, yet nothing a reader would call different". The module docstring says
"case and surrounding whitespace changes count as changes"; surrounding whitespace does not.
"""

import pytest

from ai_prefill.schema import DRAFT_FIELDS
from feedback.corrections import field_change, fields_changes


@pytest.mark.parametrize(
    ("suggested", "final"),
    [("", None), (None, ""), ("   ", None), (None, None), ("", "")],
)
def test_empty_and_missing_are_the_same(suggested, final):
    change = field_change("brand", suggested, final)
    assert (change.changed, change.similarity) == (False, 1.0)
    assert change.suggested is None and change.final is None  # stored as null, not ""


@pytest.mark.parametrize(
    "final",
    ["red City Bike", "Red  city\tbike", "Red city-bike", "Réd city bike"],
    ids=["case", "inner spaces", "punctuation", "accent"],
)
def test_what_no_reader_calls_a_correction_is_not_a_change(final):
    """The one definition of the same value (ai_prefill.fields), shared with annotation and
    evals: a correction in the reports is a real change."""
    change = field_change("title", "Red city bike", final)
    assert (change.changed, change.similarity) == (False, 1.0)
    assert change.final == final, "what the seller typed is kept as typed"


def test_a_price_of_zero_is_a_price():
    change = field_change("price_eur", None, 0)
    assert change.changed is True and change.final == 0.0


def test_surrounding_whitespace_only_is_not_a_change():
    change = field_change("title", "Red city bike", "  Red city bike \n")
    assert (change.changed, change.similarity) == (False, 1.0)


def test_a_small_edit_scores_high_but_below_one():
    change = field_change("title", "Red city bike", "Red city bike, 28 inch")
    assert change.changed is True
    assert 0.7 < change.similarity < 1.0


def test_a_rewrite_scores_low():
    change = field_change("description", "A red city bike.", "Vintage oak wardrobe")
    assert change.changed is True and change.similarity < 0.4


@pytest.mark.parametrize("field", ["category", "condition"])
def test_category_and_condition_are_right_or_wrong(field):
    a, b = ("bikes", "sports-outdoors") if field == "category" else ("good", "like-new")
    change = field_change(field, a, b)
    assert (change.changed, change.similarity) == (True, 0.0)


def test_text_filled_in_or_cleared_scores_zero():
    assert field_change("brand", None, "Gazelle").similarity == 0.0
    assert field_change("brand", "Gazelle", "").similarity == 0.0
    assert field_change("brand", "Gazelle", "").changed is True


@pytest.mark.parametrize(
    ("suggested", "final", "changed", "similarity"),
    [
        (100, 90, True, 0.9),
        (90, 100, True, 0.9),  # symmetric: the difference over the larger price
        ("100.00", 100, False, 1.0),
        (100.0, "100", False, 1.0),
        (100.004, 100, False, 1.0),  # prices compare to the cent
        (None, 50, True, 0.0),
        (50, None, True, 0.0),
        ("", None, False, 1.0),
        (0, None, True, 0.0),  # "free" is a price, not a missing one
        (0, 0, False, 1.0),
        (100, 0, True, 0.0),
        (10, 1000, True, 0.01),
    ],
)
def test_prices_compare_as_numbers(suggested, final, changed, similarity):
    change = field_change("price_eur", suggested, final)
    assert (change.changed, change.similarity) == (changed, similarity)


def test_price_is_stored_json_ready():
    change = field_change("price_eur", "100.00", 90)
    assert change.suggested == 100.0 and isinstance(change.suggested, float)
    assert change.final == 90.0


def test_price_that_is_not_a_number_counts_as_missing():
    assert field_change("price_eur", "about fifty", None).changed is False
    assert field_change("price_eur", "about fifty", 50).similarity == 0.0


def test_numbers_in_text_fields_are_compared_as_text():
    change = field_change("title", 2024, "2024")
    assert change.changed is False


def test_fields_changes_covers_every_draft_field_and_missing_keys():
    changes = fields_changes({"title": "Bike", "price_eur": 10}, {"title": "Bike"})
    assert [c.field for c in changes] == list(DRAFT_FIELDS)
    by_field = {c.field: c for c in changes}
    assert by_field["title"].changed is False
    assert by_field["price_eur"].changed is True  # the seller removed the price
    assert by_field["brand"].changed is False  # missing on both sides
