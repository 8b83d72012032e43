"""How much a seller changed each suggested field: pure functions on plain values.

Empty and missing are the same thing to a seller ("" == None) and surrounding whitespace is
ignored (forms strip it). A change of case or of inner spacing counts as a change, with
similarity 1.0: nothing of substance changed. Prices compare as numbers.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from rapidfuzz import fuzz

from ai_prefill.schema import DRAFT_FIELDS

EXACT_FIELDS = {"category", "condition"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    suggested: object
    final: object
    changed: bool
    similarity: float  # 1.0 = kept as suggested, 0.0 = nothing in common


def field_change(field: str, suggested, final) -> FieldChange:
    if field == "price_eur":
        return _price_change(suggested, final)
    before, after = _text(suggested), _text(final)
    if before == after:
        return FieldChange(field, _plain(suggested), _plain(final), False, 1.0)
    if field in EXACT_FIELDS or not before or not after:
        similarity = 0.0
    else:
        similarity = fuzz.ratio(_normalised(before), _normalised(after)) / 100
    return FieldChange(field, _plain(suggested), _plain(final), True, round(similarity, 4))


def fields_changes(suggested: dict, final: dict) -> list[FieldChange]:
    return [field_change(name, suggested.get(name), final.get(name)) for name in DRAFT_FIELDS]


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _normalised(text: str) -> str:
    return " ".join(text.casefold().split())


def _plain(value):
    """JSON-ready: Decimals become floats, blanks become None."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _price_change(suggested, final) -> FieldChange:
    before, after = _number(suggested), _number(final)
    if before == after:
        return FieldChange("price_eur", _plain(before), _plain(after), False, 1.0)
    if before is None or after is None:
        return FieldChange("price_eur", _plain(before), _plain(after), True, 0.0)
    base = max(abs(before), abs(after))
    similarity = float(1 - abs(after - before) / base) if base else 1.0
    return FieldChange(
        "price_eur", _plain(before), _plain(after), True, round(max(0.0, similarity), 4)
    )


def _number(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
