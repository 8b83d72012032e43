from decimal import Decimal

import pytest

from marketplace.money import PriceNotUnderstood, format_eur, format_eur_input, parse_eur
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


@pytest.mark.parametrize(
    ("typed", "price"),
    [
        ("12,50", "12.50"),
        ("12.50", "12.50"),
        ("12,5", "12.5"),
        ("1.250,00", "1250.00"),
        ("1.250,5", "1250.5"),
        ("1 250", "1250"),
        ("1\u00a0250,50", "1250.50"),
        ("1250", "1250"),
        ("1250,00 €", "1250.00"),
        ("1.250.000", "1250000"),
        ("1,250.00", "1250.00"),
        ("0,99", "0.99"),
        ("0", "0"),
        (" 45 ", "45"),
    ],
)
def test_prices_are_read_as_european_sellers_type_them(typed, price):
    assert parse_eur(typed) == Decimal(price)


@pytest.mark.parametrize("typed", ["1,250", "1.250", "12.500", "1 250,000"])
def test_a_price_that_could_be_thousands_or_cents_is_refused_with_how_to_write_it(typed):
    with pytest.raises(PriceNotUnderstood) as refused:
        parse_eur(typed)
    assert refused.value.code == "ambiguous"
    thousands = Decimal(typed.replace(",", "").replace(".", "").replace(" ", ""))
    assert refused.value.message == (
        f"Is “{typed}” meant as {format_eur(thousands)}? Then write {thousands} or "
        f"{format_eur_input(thousands)}; for cents write a comma and two digits, like 12,50."
    )


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("cheap", "invalid"),
        ("12,50,1", "invalid"),
        ("1.2.3", "invalid"),
        ("12 50", "invalid"),
        ("1,250.00,5", "invalid"),
        ("12,505 €x", "invalid"),
        ("0,250", "max_decimal_places"),
        ("1250,123", "max_decimal_places"),
    ],
)
def test_what_is_not_a_price_is_refused(typed, code):
    with pytest.raises(PriceNotUnderstood) as refused:
        parse_eur(typed)
    assert refused.value.code == code


@pytest.mark.parametrize("amount", ["0", "0.5", "12.5", "999", "1250", "1250.5", "1000000"])
def test_a_price_shown_in_a_form_reads_back_as_the_same_price(amount):
    assert parse_eur(format_eur_input(Decimal(amount))) == Decimal(amount)


def test_taxonomy_has_a_general_classifieds_set():
    assert 12 <= len(Category.values) <= 14
    assert Condition.values == ["new", "like-new", "good", "fair", "for-parts"]


def test_condition_distance_counts_steps():
    assert condition_distance("new", "like-new") == 1
    assert condition_distance("for-parts", "new") == 4
    assert condition_distance("good", "good") == 0
