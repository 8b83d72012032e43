from .taxonomy import Category, Condition


def taxonomy(request):
    return {"categories": Category.choices, "conditions": Condition.choices}
