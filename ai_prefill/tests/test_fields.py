"""The one definition of "the same value" of a draft field (ai_prefill/fields.py)."""

from decimal import Decimal

import pytest

from ai_prefill.evals.scoring import score_case
from ai_prefill.fields import comparable, same_value
from ai_prefill.schema import DRAFT_FIELDS, ListingDraft

SAME = [
    ("title", "Red city bike", "  red CITY bike "),
    ("title", "Red city bike", "Red  city-bike."),
    ("description", "Café table", "Cafe table"),
    ("brand", None, ""),
    ("brand", "", "   "),
    ("color", "Off-White", "off white"),
    ("price_eur", 12, "12.00"),
    ("price_eur", 12.5, Decimal("12.50")),
    ("price_eur", 0, "0"),
    ("category", "bikes", " bikes"),
]
DIFFERENT = [
    ("title", "Red city bike", "Red city bikes"),
    ("brand", "Nike", "Nikon"),
    ("brand", None, "Nike"),
    ("price_eur", 0, None),  # a give-away is a price, not "no price"
    ("price_eur", 12, 12.01),
    ("condition", "good", "fair"),
]


@pytest.mark.parametrize(("field", "a", "b"), SAME)
def test_the_same_value(field, a, b):
    assert same_value(field, a, b) and same_value(field, b, a)
    assert hash(comparable(field, a)) == hash(comparable(field, b))


@pytest.mark.parametrize(("field", "a", "b"), DIFFERENT)
def test_different_values(field, a, b):
    assert not same_value(field, a, b) and not same_value(field, b, a)


def test_a_price_that_is_not_a_number_compares_as_text():
    assert same_value("price_eur", "ask me", "Ask me")
    assert not same_value("price_eur", "ask me", 12)


def test_the_field_names_are_the_draft_model_s():
    assert tuple(ListingDraft.model_fields) == DRAFT_FIELDS
    with pytest.raises(ValueError, match="not a draft field"):
        comparable("titel", "x")


EXPECTED = {
    "title": "Red city bike", "description": "A red city bike with a basket.",
    "category": "bikes", "condition": "good", "brand": None, "color": "red", "price_eur": 0,
}  # fmt: skip


@pytest.mark.parametrize(("field", "a", "b"), SAME)
def test_evals_score_the_same_value_as_right(field, a, b):
    """A value the same as the expected one is never an eval error."""
    expected = {**EXPECTED, field: a}
    case = score_case(expected=expected, output={**expected, field: b}, key_attributes=["oak"])
    assert case.fields[field].correct and case.fields[field].score == 1.0
