from celery import shared_task
from django.utils import timezone

from marketplace.task_queues import QueueKind

from .models import Message
from .notifications import message_notification_send


@shared_task(
    queue_kind=QueueKind.EMAIL,
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    acks_late=True,
)
def message_notify(message_id: int) -> None:
    """Email the recipient of a new message, once. OSError covers SMTP connection trouble.

    Sent through the outbox, which delivers at least once: a message already notified is
    skipped (a crash between the email and the mark can still send it twice, never lose it)."""
    message = (
        Message.objects.select_related(
            "sender", "conversation__buyer", "conversation__listing__seller"
        )
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.notified_at:  # deleted before the worker got to it, or done
        return
    message_notification_send(message=message)
    Message.objects.filter(pk=message.pk).update(notified_at=timezone.now())
