from django import template

register = template.Library()


@register.filter
def has_required_fields(form) -> bool:
    """Whether a form shows a field the person must fill in (its label carries the mark)."""
    return any(field.field.required for field in form.visible_fields())
