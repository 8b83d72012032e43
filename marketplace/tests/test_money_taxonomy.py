from decimal import Decimal

import pytest

from marketplace.money import format_eur
from marketplace.taxonomy import Category, Condition, condition_distance


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        (Decimal("1250"), "1.250\u00a0€"),
        (Decimal("1250.5"), "1.250,50\u00a0€"),
        (Decimal("0.99"), "0,99\u00a0€"),
        (Decimal("1000000"), "1.000.000\u00a0€"),
        (Decimal("12.005"), "12,01\u00a0€"),
        (0, "0\u00a0€"),
        (None, ""),
    ],
)
def test_prices_are_shown_one_way(amount, shown):
    assert format_eur(amount) == shown


def test_taxonomy_has_a_general_classifieds_set():
    assert 12 <= len(Category.values) <= 14
    assert Condition.values == ["new", "like-new", "good", "fair", "for-parts"]


def test_condition_distance_counts_steps():
    assert condition_distance("new", "like-new") == 1
    assert condition_distance("for-parts", "new") == 4
    assert condition_distance("good", "good") == 0
