"""How much a seller changed each suggested field: pure functions on plain values.

Whether a field changed at all is `ai_prefill.fields.same_value`, the definition annotation and
evals use too: blank and missing are the same, text compares without case, accents, punctuation
or extra spaces, category and condition by slug, prices as numbers to the cent. How much a
changed field changed is a similarity in 0..1: rapidfuzz ratio of the compared text, 0 for a
different category or condition or a value added or removed, and 1 - relative difference for a
price.
"""

from dataclasses import dataclass
from decimal import Decimal

from rapidfuzz import fuzz

from ai_prefill.fields import CHOICE_FIELDS, PRICE_FIELD, comparable, same_value, text_key
from ai_prefill.schema import DRAFT_FIELDS


@dataclass(frozen=True)
class FieldChange:
    field: str
    suggested: object
    final: object
    changed: bool
    similarity: float  # 1.0 = kept as suggested, 0.0 = nothing in common


def field_change(field: str, suggested, final) -> FieldChange:
    if field == PRICE_FIELD:
        suggested, final = _price_or_none(suggested), _price_or_none(final)
    plain = (field, _plain(suggested), _plain(final))
    if same_value(field, suggested, final):
        return FieldChange(*plain, False, 1.0)
    return FieldChange(*plain, True, round(_similarity(field, suggested, final), 4))


def fields_changes(suggested: dict, final: dict) -> list[FieldChange]:
    return [field_change(name, suggested.get(name), final.get(name)) for name in DRAFT_FIELDS]


def _similarity(field: str, before, after) -> float:
    """Of two values that are not the same."""
    if field in CHOICE_FIELDS or comparable(field, before) is None:
        return 0.0
    if comparable(field, after) is None:
        return 0.0
    if field == PRICE_FIELD:
        base = max(abs(before), abs(after))
        return max(0.0, float(1 - abs(after - before) / base)) if base else 1.0
    return fuzz.ratio(text_key(before), text_key(after)) / 100


def _price_or_none(value) -> Decimal | None:
    compared = comparable(PRICE_FIELD, value)
    return compared if isinstance(compared, Decimal) else None


def _plain(value):
    """JSON-ready: Decimals become floats, blanks become None."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value
