"""What counts as "the same value" of a draft field: one definition for every app.

Feedback (did the seller correct the suggestion?), annotation (was the AI right, do two
annotators agree?) and evals (a value the same as the expected one always scores correct)
compare field values only through `same_value`, so a correction in the reports, a disagreement
in annotation and an error in evals can never disagree about the same pair of values.

The rules, by kind of field:
- blank and missing are the same: None, "" and whitespace are all "no value";
- text (title, description, brand, color): compared by `text_key`: Unicode compatibility
  form, accents dropped, casefolded, punctuation read as spaces, runs of spaces collapsed. So
  "Nike" / "nike ", "Café" / "Cafe" and "T-shirt" / "T shirt" are the same value; "Nike" / "Nikon"
  are not. A change a reader would not call a correction is not one;
- category, condition: the taxonomy slug, exactly (they are enums);
- price_eur: a number to the cent, so 12, 12.0, "12.00" and Decimal("12") are the same, and
  0 is a price (a give-away), not "no price". A value that is not a number compares as text.
"""

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from .schema import DRAFT_FIELDS

PRICE_FIELD = "price_eur"
CHOICE_FIELDS = frozenset({"category", "condition"})
TEXT_FIELDS = frozenset(DRAFT_FIELDS) - CHOICE_FIELDS - {PRICE_FIELD}

_CENT = Decimal("0.01")


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text_key(value: object) -> str:
    """Free text as it is compared: see the module docstring ("" for a blank value)."""
    if is_blank(value):
        return ""
    text = unicodedata.normalize("NFKD", str(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def price_value(value: object) -> Decimal | None:
    """A price as a Decimal to the cent; None for a blank value. Raises ValueError for anything
    that is not a finite number (bools included)."""
    if is_blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a price: {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not a price: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not a price: {value!r}")
    return number.quantize(_CENT)


def comparable(field: str, value: object):
    """The form of `value` that `same_value` compares: equal forms, same value. Hashable."""
    if field not in DRAFT_FIELDS:
        raise ValueError(f"not a draft field: {field!r}")
    if is_blank(value):
        return None
    if field == PRICE_FIELD:
        try:
            return price_value(value)
        except ValueError:
            return ("text", text_key(value))
    if field in CHOICE_FIELDS:
        return str(value).strip()
    return text_key(value)


def same_value(field: str, a: object, b: object) -> bool:
    """Do `a` and `b` say the same thing for this draft field? (Rules: the module docstring.)"""
    return comparable(field, a) == comparable(field, b)


def values_comparable(values: dict) -> tuple:
    """A whole set of field values in comparable form, in field order (missing = blank)."""
    return tuple(comparable(name, values.get(name)) for name in DRAFT_FIELDS)
