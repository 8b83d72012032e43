"""Prices are euros stored as Decimal with two places; shown one way everywhere: "1.250 €";
typed the way a European seller types them, read by one parser (parse_eur)."""

import re
from decimal import ROUND_HALF_UP, Decimal


def format_eur(amount: Decimal | int | float | None) -> str:
    """German-style EUR: dot for thousands, comma for cents, cents only when there are some.

    >>> format_eur(Decimal("1250")), format_eur(Decimal("12.5")), format_eur(None)
    ('1.250 €', '12,50 €', '')
    """
    if amount is None:
        return ""
    value = Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    whole, cents = divmod(abs(value), 1)
    text = f"{int(whole):,}".replace(",", ".")
    if cents:
        text += f",{int(cents * 100):02d}"
    sign = "-" if value < 0 else ""
    return f"{sign}{text}\u00a0€"


def format_eur_input(amount: Decimal | int | float | None) -> str:
    """A price as a form field shows it: format_eur's number, always with its cents.

    The cents keep it unambiguous for parse_eur ("1.250" alone could be 1,25 €).

    >>> format_eur_input(Decimal("1250")), format_eur_input(Decimal("12.5"))
    ('1.250,00', '12,50')
    """
    if amount is None:
        return ""
    text = format_eur(amount).removesuffix("\u00a0€")
    return text if "," in text else f"{text},00"


class PriceNotUnderstood(ValueError):
    """A typed price parse_eur cannot read; `message` is a sentence for the person who typed it."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.message, self.code = message, code


NOT_A_PRICE = "Enter a price in euros, like 12,50 or 1.250,00."
TOO_MANY_CENTS = "Write the cents with two digits, like 12,50."
_SPACES = re.compile(r"[ \u00a0\u202f]+")  # typed or pasted spaces between thousands
_SHAPE = re.compile(r"[0-9]+(?:[., ][0-9]+)*")


def parse_eur(text: str) -> Decimal:
    """A price as a European seller types it: "12,50", "12.50", "1.250,00", "1 250", "1250".

    Either a comma or a dot may mark the cents; when both appear the last one does and the
    other groups thousands, as spaces may. A lone separator followed by exactly three digits
    ("1,250", "1.250") could be thousands or cents: it is refused with a sentence saying how to
    write it. Raises PriceNotUnderstood.

    >>> parse_eur("12,50"), parse_eur("1.250,00"), parse_eur("1 250"), parse_eur("12.5 €")
    (Decimal('12.50'), Decimal('1250.00'), Decimal('1250'), Decimal('12.5'))
    """
    compact = _SPACES.sub(" ", text.strip().removesuffix("€").removeprefix("€").strip())
    sign, compact = ("-", compact[1:].lstrip()) if compact.startswith("-") else ("", compact)
    if not _SHAPE.fullmatch(compact):
        raise PriceNotUnderstood(NOT_A_PRICE, "invalid")
    whole, cents = _split_cents(compact, typed=text.strip())
    groups = re.split(r"[., ]", whole)
    if len(groups) > 1 and not (
        1 <= len(groups[0]) <= 3 and all(len(group) == 3 for group in groups[1:])
    ):
        raise PriceNotUnderstood(NOT_A_PRICE, "invalid")
    if cents is not None and len(cents) > 2:
        raise PriceNotUnderstood(TOO_MANY_CENTS, "max_decimal_places")
    return Decimal(sign + "".join(groups) + (f".{cents}" if cents is not None else ""))


def _split_cents(compact: str, *, typed: str) -> tuple[str, str | None]:
    """(the whole euros, the cents or None) of a number shaped like _SHAPE."""
    marks = [char for char in compact if char in ".,"]
    if not marks:
        return compact, None
    if len(set(marks)) == 2:  # "1.250,00", "1,250.00": the last one marks the cents
        if marks.count(marks[-1]) > 1:
            raise PriceNotUnderstood(NOT_A_PRICE, "invalid")
        whole, _, cents = compact.rpartition(marks[-1])
        return whole, cents
    if len(marks) > 1:  # "1.250.000": only thousands
        return compact, None
    whole, _, cents = compact.rpartition(marks[0])
    last_group = whole.rsplit(" ", 1)[-1]
    if len(cents) == 3 and len(last_group) <= 3 and not last_group.startswith("0"):
        thousands = Decimal(whole.replace(" ", "") + cents)
        raise PriceNotUnderstood(
            f"Is “{typed}” meant as {format_eur(thousands)}? Then write {thousands} or "
            f"{format_eur_input(thousands)}; for cents write a comma and two digits, like 12,50.",
            "ambiguous",
        )
    return whole, cents
