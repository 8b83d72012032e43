"""The one taxonomy of Trova: categories and item conditions.

Everything that names a category or a condition (listings, the AI draft schema, the eval set,
reports) uses these slugs, so a change here is a change of contract: add values, never rename.
"""

from django.db import models


class Category(models.TextChoices):
    ELECTRONICS = "electronics", "Electronics"
    PHONES = "phones-tablets", "Phones & tablets"
    COMPUTERS = "computers", "Computers"
    HOME = "home-kitchen", "Home & kitchen"
    FURNITURE = "furniture", "Furniture"
    FASHION = "fashion", "Clothing & shoes"
    KIDS = "baby-kids", "Baby & kids"
    SPORTS = "sports-outdoors", "Sports & outdoors"
    BIKES = "bikes", "Bikes"
    MEDIA = "books-music-film", "Books, music & film"
    TOYS = "toys-games", "Toys & games"
    TOOLS = "tools-diy", "Tools & DIY"
    OTHER = "other", "Other"


class Condition(models.TextChoices):
    """Ordered from best to worst: evals score 'within one step' on this order."""

    NEW = "new", "New"
    LIKE_NEW = "like-new", "Like new"
    GOOD = "good", "Good"
    FAIR = "fair", "Fair"
    FOR_PARTS = "for-parts", "For parts"


CONDITION_ORDER = [c.value for c in Condition]


def condition_distance(a: str, b: str) -> int:
    """Steps between two conditions on the best-to-worst scale."""
    return abs(CONDITION_ORDER.index(a) - CONDITION_ORDER.index(b))
