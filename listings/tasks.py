from celery import shared_task

from .models import Message
from .notifications import message_notification_send


@shared_task(
    autoretry_for=(OSError,), retry_backoff=True, retry_jitter=True, max_retries=5, acks_late=True
)
def message_notify(message_id: int) -> None:
    """Email the recipient of a new message. OSError covers SMTP connection trouble."""
    message = (
        Message.objects.select_related(
            "sender", "conversation__buyer", "conversation__listing__seller"
        )
        .filter(pk=message_id)
        .first()
    )
    if message is None:  # deleted before the worker got to it
        return
    message_notification_send(message=message)
