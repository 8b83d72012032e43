"""Email to the other party of a conversation. Runs in a worker (listings.tasks)."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from .models import Message


def message_notification_send(*, message: Message) -> None:
    conversation = message.conversation
    listing = conversation.listing
    recipient = listing.seller if message.sender_id == conversation.buyer_id else conversation.buyer
    if not recipient.email:
        return
    context = {
        "message": message,
        "listing": listing,
        "recipient": recipient,
        "url": settings.SITE_URL.rstrip("/") + conversation.get_absolute_url(),
    }
    send_mail(
        subject=f"New message about “{listing.title}” on Trova",
        message=render_to_string("listings/email/new_message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[recipient.email],
    )
