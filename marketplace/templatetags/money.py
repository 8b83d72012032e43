from django import template

from marketplace.money import format_eur

register = template.Library()


@register.filter
def eur(amount):
    return format_eur(amount)
