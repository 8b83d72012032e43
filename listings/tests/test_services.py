from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from listings import services
from listings.models import Conversation, Listing
from listings.tests.factories import ListingFactory
from marketplace.photos import photo_process
from marketplace.sample_images import render_item

pytestmark = pytest.mark.django_db


def _photo():
    return photo_process(ContentFile(render_item(shape="mug", color="red", size=(120, 90))))


def _fields(**overrides):
    data = dict(
        title="Red mug", description="A mug.", category="home-kitchen", condition="good",
        price_eur=Decimal("4.50"), brand="", color="red",
    )  # fmt: skip
    return services.ListingFields(**{**data, **overrides})


def test_create_stores_listing_and_both_images(seller):
    listing = services.listing_create(seller=seller, fields=_fields(), photo=_photo())
    assert listing.pk and listing.seller == seller and listing.is_active
    assert default_storage.exists(listing.photo.name)
    assert default_storage.exists(listing.thumbnail.name)


def test_create_with_invalid_fields_leaves_no_file(seller, settings):
    with pytest.raises(ValidationError):
        services.listing_create(
            seller=seller, fields=_fields(category="spaceships"), photo=_photo()
        )
    assert Listing.objects.count() == 0
    assert not list((settings.MEDIA_ROOT / "listings").rglob("*.jpg"))


def test_only_the_owner_updates(seller, other_seller):
    listing = ListingFactory(seller=seller, price_eur=Decimal("10"))
    with pytest.raises(PermissionDenied):
        services.listing_update(listing=listing, actor=other_seller, changes={"price_eur": 1})
    services.listing_update(listing=listing, actor=seller, changes={"price_eur": Decimal("8")})
    listing.refresh_from_db()
    assert listing.price_eur == Decimal("8")


def test_update_refuses_fields_that_are_not_editable(seller):
    listing = ListingFactory(seller=seller)
    with pytest.raises(ValidationError):
        services.listing_update(listing=listing, actor=seller, changes={"seller_id": 99})


def test_new_photo_replaces_and_removes_the_old_files(seller, django_capture_on_commit_callbacks):
    listing = ListingFactory(seller=seller)
    old = listing.photo.name, listing.thumbnail.name
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_update(listing=listing, actor=seller, changes={}, photo=_photo())
    assert listing.photo.name not in old
    assert not any(default_storage.exists(name) for name in old)
    assert default_storage.exists(listing.photo.name)


def test_mark_sold_is_owner_only_and_idempotent(seller, other_seller):
    listing = ListingFactory(seller=seller)
    with pytest.raises(PermissionDenied):
        services.listing_mark_sold(listing=listing, actor=other_seller)
    services.listing_mark_sold(listing=listing, actor=seller)
    sold_at = listing.sold_at
    services.listing_mark_sold(listing=listing, actor=seller)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD and listing.sold_at == sold_at


def test_relist_is_the_sellers_alone_and_idempotent(seller, other_seller, staff_with):
    listing = ListingFactory(seller=seller)
    services.listing_mark_sold(listing=listing, actor=seller)
    moderator = staff_with("listings.change_listing")
    for someone in (other_seller, moderator):
        with pytest.raises(PermissionDenied, match="Only the seller can put this listing back"):
            services.listing_relist(listing=listing, actor=someone)
    listing.refresh_from_db()
    assert listing.status == Listing.Status.SOLD
    for _ in range(2):
        services.listing_relist(listing=listing, actor=seller)
        listing.refresh_from_db()
        assert listing.status == Listing.Status.ACTIVE and listing.sold_at is None


def test_delete_removes_row_and_files(seller, other_seller, django_capture_on_commit_callbacks):
    listing = ListingFactory(seller=seller)
    files = listing.photo.name, listing.thumbnail.name
    with pytest.raises(PermissionDenied):
        services.listing_delete(listing=listing, actor=other_seller)
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_delete(listing=listing, actor=seller)
    assert not Listing.objects.exists()
    assert not any(default_storage.exists(name) for name in files)


def test_contact_emails_the_seller_and_reuses_the_conversation(
    seller, buyer, django_capture_on_commit_callbacks
):
    listing = ListingFactory(seller=seller, title="Road bike")
    with django_capture_on_commit_callbacks(execute=True):
        first = services.conversation_start(listing=listing, buyer=buyer, body=" Still there? ")
        second = services.conversation_start(listing=listing, buyer=buyer, body="Price?")
    assert first.conversation_id == second.conversation_id
    assert first.body == "Still there?"
    assert Conversation.objects.count() == 1
    assert [m.to for m in mail.outbox] == [[seller.email], [seller.email]]
    assert "Road bike" in mail.outbox[0].subject
    assert "Still there?" in mail.outbox[0].body


def test_seller_cannot_message_own_listing(seller):
    listing = ListingFactory(seller=seller)
    with pytest.raises(PermissionDenied):
        services.conversation_start(listing=listing, buyer=seller, body="Hi me")


def test_sold_listing_takes_no_new_messages(seller, buyer):
    listing = ListingFactory(seller=seller, status=Listing.Status.SOLD)
    with pytest.raises(ValidationError):
        services.conversation_start(listing=listing, buyer=buyer, body="Hello")


def test_empty_message_is_refused(seller, buyer):
    listing = ListingFactory(seller=seller)
    with pytest.raises(ValidationError):
        services.conversation_start(listing=listing, buyer=buyer, body="   ")
    assert not Conversation.objects.exists()


def test_reply_is_for_participants_and_emails_the_buyer(
    seller, buyer, other_seller, django_capture_on_commit_callbacks
):
    listing = ListingFactory(seller=seller)
    message = services.conversation_start(listing=listing, buyer=buyer, body="Hi")
    with pytest.raises(PermissionDenied):
        services.conversation_reply(
            conversation=message.conversation, sender=other_seller, body="Me too"
        )
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_reply(conversation=message.conversation, sender=seller, body="Yes")
    assert mail.outbox[-1].to == [buyer.email]


def test_mark_read_marks_only_the_other_partys_messages(seller, buyer):
    listing = ListingFactory(seller=seller)
    message = services.conversation_start(listing=listing, buyer=buyer, body="Hi")
    convo = message.conversation
    assert services.conversation_mark_read(conversation=convo, reader=buyer) == 0
    assert services.conversation_mark_read(conversation=convo, reader=seller) == 1
    assert services.conversation_mark_read(conversation=convo, reader=seller) == 0
