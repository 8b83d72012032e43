"""Demo data: a few sellers and a listing for every catalog item, each with its own picture."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from marketplace.demo_catalog import CATALOG
from marketplace.photos import photo_process
from marketplace.sample_images import render_item

from .models import Listing
from .services import ListingFields, listing_create

DEMO_PASSWORD = "trova-demo-2026"  # noqa: S105 - printed on purpose: demo accounts only
DEMO_USERS = [
    ("anna", "Anna Becker", "anna@demo.trova.example"),
    ("marco", "Marco Rossi", "marco@demo.trova.example"),
    ("lea", "Léa Martin", "lea@demo.trova.example"),
]


def demo_users_ensure() -> list:
    users = []
    for username, name, email in DEMO_USERS:
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"first_name": name, "email": email}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        users.append(user)
    return users


@transaction.atomic
def demo_data_load() -> tuple[int, int]:
    """Create what is missing; returns (listings created, listings already there)."""
    sellers = demo_users_ensure()
    created = existing = 0
    now = timezone.now()
    for index, item in enumerate(CATALOG):
        seller = sellers[index % len(sellers)]
        if Listing.objects.filter(seller=seller, title=item.title).exists():
            existing += 1
            continue
        photo = photo_process(
            ContentFile(
                render_item(shape=item.shape, color=item.color, seed=index, label=item.brand)
            )
        )
        fields = ListingFields(
            title=item.title, description=item.description, category=item.category,
            condition=item.condition, brand=item.brand, color=item.color, price_eur=item.price_eur,
        )  # fmt: skip
        listing = listing_create(seller=seller, fields=fields, photo=photo)
        # Spread the demo over the last weeks so "newest first" means something.
        Listing.objects.filter(pk=listing.pk).update(created_at=now - timedelta(hours=7 * index))
        created += 1
    return created, existing
