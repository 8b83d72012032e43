"""Prices are euros stored as Decimal with two places; shown one way everywhere: "1.250 €"."""

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
