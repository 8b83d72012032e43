"""The transactional outbox: Celery tasks that survive a broker outage.

A service that must start a task after its transaction commits (dispatch a pre-fill run, email
a new message) calls `outbox_enqueue` inside that transaction instead of `task.delay()` in an
`on_commit` hook. The task is then a row committed together with the data it is about:

- on commit, `outbox_publish` hands it to the broker at once and marks it sent (the usual case);
- if the broker is down, the request still succeeds, the row stays pending, and `outbox_relay`
  (a beat task, every 10 s) publishes it once the broker is back; the same happens to a row
  whose process died between the commit and the publish.

Delivery is at least once (a publish whose "sent" mark was lost is sent again), so every task
sent through here must be idempotent. Two publishers never send the same row at the same time:
each takes the row with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) while it publishes.
"""

import logging
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from .celery import app
from .log_context import log_context_bound, request_id_get
from .models import OutboxMessage

logger = logging.getLogger(__name__)

# The web process publishes its own rows on commit; the relay leaves younger rows to it.
RELAY_GRACE = timedelta(seconds=5)
# Sent rows are kept this long for inspection (admin, shell), then deleted by the relay.
KEEP_SENT = timedelta(days=2)


def outbox_enqueue(*, task: str, args: list, on_published=None) -> OutboxMessage:
    """Record `task(*args)` in the current transaction; publish it once that commits.

    `on_published(sent: bool)`, if given, runs right after that first publish: True when the
    broker took it, False when it is left to the relay (the caller may tell its user)."""
    message = OutboxMessage.objects.create(task=task, args=args, request_id=request_id_get())
    transaction.on_commit(partial(_publish_on_commit, message.pk, on_published))
    return message


def _publish_on_commit(message_id: int, on_published) -> None:
    sent = outbox_publish(message_id=message_id) is not False
    if on_published is not None:
        on_published(sent)


def outbox_publish(*, message_id: int) -> bool | None:
    """Hand one pending row to the broker. True: sent now; False: the broker is unreachable
    (the row stays pending); None: nothing to do (already sent, or another process has it)."""
    if app.conf.task_always_eager:
        return _run_in_process(message_id)
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=message_id, sent_at__isnull=True)
            .first()
        )
        if message is None:
            return None
        try:
            # The request that queued it, whichever process publishes it: the task's message
            # carries the id (monitoring puts the context on every message it publishes).
            with log_context_bound(request_id=message.request_id):
                app.send_task(message.task, args=message.args)
        except BrokerUnavailable as exc:
            logger.warning(
                "outbox: broker unreachable, %s%s stays pending: %s",
                message.task, tuple(message.args), exc,
            )  # fmt: skip
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=F("attempts") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
            )
            return False
        OutboxMessage.objects.filter(pk=message.pk).update(sent_at=timezone.now())
        return True


def _run_in_process(message_id: int) -> bool | None:
    """The embedded mode (no broker): run the task here and now, as .delay() would, outside any
    transaction or row lock of ours (a pre-fill task calls the model)."""
    taken = OutboxMessage.objects.filter(pk=message_id, sent_at__isnull=True)
    if not taken.update(sent_at=timezone.now()):
        return None
    message = OutboxMessage.objects.get(pk=message_id)
    if message.task not in app.tasks:  # the caller's module defines it; else load every app's
        app.loader.import_default_modules()
    with log_context_bound(request_id=message.request_id):
        app.tasks[message.task].apply_async(args=message.args)
    return True


def outbox_relay(*, limit: int = 500) -> int:
    """Publish pending rows, oldest first; stop at the first broker failure. Returns how many
    were sent. Also deletes sent rows older than KEEP_SENT."""
    now = timezone.now()
    pending = OutboxMessage.objects.filter(sent_at__isnull=True, created_at__lt=now - RELAY_GRACE)
    sent = 0
    for message_id in pending.order_by("created_at", "id").values_list("pk", flat=True)[:limit]:
        outcome = outbox_publish(message_id=message_id)
        if outcome is False:
            break
        sent += bool(outcome)
    OutboxMessage.objects.filter(sent_at__lt=now - KEEP_SENT).delete()
    if sent:
        logger.info("outbox: relayed %d pending task(s)", sent)
    return sent
