"""Form fields every app's forms share."""

from decimal import Decimal

from django import forms

from .money import PriceNotUnderstood, format_eur_input, parse_eur


class PriceField(forms.DecimalField):
    """A price in EUR typed by a person: read by parse_eur ("12,50", "1.250,00", "12.50"),
    shown back as "1.250,00". A text box, not type=number: a number box drops or refuses the
    comma depending on the browser's language."""

    widget = forms.TextInput

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 9)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("error_messages", {}).setdefault(
            "min_value", "A price cannot be below 0 €."
        )
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "inputmode": "decimal", "autocomplete": "off"}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            return parse_eur(str(value))
        except PriceNotUnderstood as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None

    def prepare_value(self, value):
        return format_eur_input(value) if isinstance(value, Decimal | int) else value
