"""Writes to listings and conversations. Every ownership rule of the product is enforced here,
so the site, the API and the admin cannot disagree about who may do what: a listing is changed
or deleted by its seller, or by staff holding the model's permission (moderators in admin)."""

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.rollout import PrefillConfig, prefill_assignment_for
from ai_prefill.schema import DRAFT_FIELDS
from feedback.models import SellSession
from feedback.services import (
    outcome_record_late_edit,
    outcome_record_publish,
    sell_session_open,
    sell_session_publish,
)
from marketplace.outbox import outbox_enqueue
from marketplace.photos import ProcessedPhoto
from marketplace.storage import files_delete_quietly

from .models import Conversation, Listing, Message
from .tasks import message_notify

EDITABLE_FIELDS = DRAFT_FIELDS  # a listing has exactly the draft's fields


@dataclass(frozen=True)
class ListingFields:
    title: str
    description: str
    category: str
    condition: str
    price_eur: Decimal
    brand: str = ""
    color: str = ""


@dataclass(frozen=True)
class SellFormContext:
    """What the Sell page needs: the sell session it measures, and the AI configuration the
    seller gets (`config.enabled` False: the plain form)."""

    session: SellSession
    config: PrefillConfig


def sell_form_open(*, user, session: SellSession | None = None) -> SellFormContext:
    """The seller opens the Sell form: their arm (assigned at most once, here) or production,
    and a sell session opened or resumed (an enrolled seller's exposure is logged with it).
    `session`, the seller's own from a form that came back with an error, goes on as it is:
    the seller is still filling in the form they opened then."""
    assignment, config = prefill_assignment_for(user=user)
    if session is None or session.user_id != user.pk:
        session = sell_session_open(user=user, assignment=assignment)
    return SellFormContext(session=session, config=config)


def listing_create(
    *,
    seller,
    fields: ListingFields,
    photo: ProcessedPhoto | None = None,
    prefill_run: PrefillRun | None = None,
    form_opened_at: datetime | None = None,
    sell_session: SellSession | None = None,
) -> Listing:
    """Store the photo and the listing together: if the row cannot be saved, the files go too.

    The photo is either a fresh upload or the one the seller already gave the AI pre-fill run;
    in that case the listing is linked to the run and the seller uploads nothing twice. The
    sell session the listing ends (the Sell form's) records its time to publish in the same
    transaction as the listing.
    """
    if sell_session is not None and sell_session.user_id != seller.pk:
        raise PermissionDenied("This Sell form was opened by someone else.")
    if prefill_run is not None:
        _check_run_usable(prefill_run, seller)
        photo_files = _run_photo_files(prefill_run)
    elif photo is not None:
        photo_files = (photo.display, photo.thumbnail)
    else:
        raise ValidationError({"photo": "A photo is required."})
    listing = Listing(seller=seller, prefill_run=prefill_run, **asdict(fields))
    try:
        _attach_photo(listing, *photo_files)
        listing.full_clean()
        with transaction.atomic():
            listing.save()
            if prefill_run is not None:
                _record_publish(listing, prefill_run, fields, form_opened_at)
            if sell_session is not None:
                sell_session_publish(session=sell_session, listing_id=listing.pk,
                                     published_at=listing.created_at, run=prefill_run)  # fmt: skip
    except Exception:
        _delete_files(listing.photo.name, listing.thumbnail.name)
        raise
    return listing


def _record_publish(listing: Listing, run: PrefillRun, fields: ListingFields, opened_at) -> None:
    """Tell feedback what the seller kept of the suggestion, in plain data."""
    outcome_record_publish(
        run=run,
        final_values=asdict(fields),
        listing_id=listing.pk,
        form_opened_at=opened_at,
        published_at=listing.created_at,
    )


def _check_run_usable(run: PrefillRun, seller) -> None:
    if run.user_id != seller.pk:
        raise PermissionDenied("This AI suggestion belongs to someone else.")
    if Listing.objects.filter(prefill_run=run).exists():
        raise ValidationError({"prefill_run": "This photo is already published in a listing."})


def _run_photo_files(run: PrefillRun) -> tuple[bytes, bytes]:
    # The run keeps its private copy (it is the evidence of what the AI saw); the listing gets
    # a public one.
    try:
        with run.photo.open("rb") as display, run.thumbnail.open("rb") as thumbnail:
            return display.read(), thumbnail.read()
    except (ValueError, FileNotFoundError):  # no file on the row, or none in storage
        raise ValidationError(
            {"prefill_run": "The photo of that AI suggestion is gone. Choose the photo again."}
        ) from None


def listing_update(
    *, listing: Listing, actor, changes: dict, photo: ProcessedPhoto | None = None
) -> Listing:
    _require_may(listing, actor, "change")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Fields that cannot be changed: {', '.join(sorted(unknown))}")
    old_files = (listing.photo.name, listing.thumbnail.name)
    # From the database: a ModelForm has already written the new values onto `listing`.
    before = Listing.objects.filter(pk=listing.pk).values(*changes).first() if changes else {}
    for name, value in changes.items():
        setattr(listing, name, value)
    try:
        if photo is not None:
            _attach_photo(listing, photo.display, photo.thumbnail)
        listing.full_clean()
        listing.save(update_fields=[*changes, *_photo_fields(photo), "updated_at"])
    except Exception:
        if photo is not None:
            _delete_files(*_new_names(listing, old_files))
        raise
    if photo is not None:
        transaction.on_commit(lambda: _delete_files(*old_files))
    if listing.prefill_run_id and changes and listing.seller_id == actor.pk:
        # A moderator's edit is not the seller correcting the suggestion.
        outcome_record_late_edit(
            run=listing.prefill_run, before=before, after=changes, at=timezone.now()
        )
    return listing


def listing_mark_sold(*, listing: Listing, actor) -> Listing:
    _require_may(listing, actor, "change")
    if listing.status != Listing.Status.SOLD:
        listing.status = Listing.Status.SOLD
        listing.sold_at = timezone.now()
        listing.save(update_fields=["status", "sold_at", "updated_at"])
    return listing


def listing_relist(*, listing: Listing, actor) -> Listing:
    """Put a sold listing back on sale. Its seller only: whether the item is still there to
    sell is theirs to know, so a moderator may mark a listing sold but not relist it."""
    if listing.seller_id != getattr(actor, "pk", None):
        raise PermissionDenied("Only the seller can put this listing back on sale.")
    if listing.status != Listing.Status.ACTIVE:
        listing.status = Listing.Status.ACTIVE
        listing.sold_at = None
        listing.save(update_fields=["status", "sold_at", "updated_at"])
    return listing


def listing_delete(*, listing: Listing, actor) -> None:
    _require_may(listing, actor, "delete")
    files = (listing.photo.name, listing.thumbnail.name)
    listing.delete()
    # Files are not transactional: remove them only once the row is gone for good.
    transaction.on_commit(lambda: _delete_files(*files))


def conversation_start(*, listing: Listing, buyer, body: str) -> Message:
    """A buyer's message to a seller; reuses the buyer's conversation about that listing."""
    if listing.seller_id == buyer.pk:
        raise PermissionDenied("You cannot send a message about your own listing.")
    if not listing.is_active:
        raise ValidationError("This item is sold; the seller no longer takes messages about it.")
    with transaction.atomic():
        conversation, _ = Conversation.objects.get_or_create(
            listing=listing, buyer=buyer, defaults={"last_message_at": timezone.now()}
        )
        return _message_add(conversation=conversation, sender=buyer, body=body)


def conversation_reply(*, conversation: Conversation, sender, body: str) -> Message:
    if sender.pk not in (conversation.buyer_id, conversation.listing.seller_id):
        raise PermissionDenied("Only the buyer and the seller can write in this conversation.")
    with transaction.atomic():
        return _message_add(conversation=conversation, sender=sender, body=body)


def conversation_mark_read(*, conversation: Conversation, reader) -> int:
    """Mark the other party's messages read; returns how many were unread."""
    return (
        conversation.messages.filter(read_at__isnull=True)
        .exclude(sender=reader)
        .update(read_at=timezone.now())
    )


def _message_add(*, conversation: Conversation, sender, body: str) -> Message:
    body = body.strip()
    if not body:
        raise ValidationError("The message is empty.")
    message = Message(conversation=conversation, sender=sender, body=body)
    message.full_clean()
    message.save()
    conversation.last_message_at = message.created_at
    conversation.save(update_fields=["last_message_at"])
    # Through the outbox: saved with the message, emailed when the broker can take it.
    outbox_enqueue(task=message_notify.name, args=[message.pk])
    return message


def _require_may(listing: Listing, actor, action: str) -> None:
    if listing.seller_id == getattr(actor, "pk", None):
        return
    if getattr(actor, "is_staff", False) and actor.has_perm(f"listings.{action}_listing"):
        return
    raise PermissionDenied("Only the seller can change this listing.")


def _attach_photo(listing: Listing, display: bytes, thumbnail: bytes) -> None:
    listing.photo.save("photo.jpg", ContentFile(display), save=False)
    listing.thumbnail.save("thumb.jpg", ContentFile(thumbnail), save=False)


def _new_names(listing: Listing, old_files: tuple[str, str]) -> list[str]:
    """Files attached by a failed update, never the listing's previous ones."""
    return [n for n in (listing.photo.name, listing.thumbnail.name) if n not in old_files]


def _photo_fields(photo: ProcessedPhoto | None) -> list[str]:
    return ["photo", "thumbnail"] if photo is not None else []


def _delete_files(*names: str) -> None:
    files_delete_quietly(default_storage, *names)
