"""Redis down: no request fails with a 500, and nothing that had to happen after a commit is lost.

Redis is the broker and the cache. Here both point at a port nothing listens on (the real kombu
and redis clients get "connection refused"), then back at the real Redis, where a real worker
delivers what waited in the transactional outbox (marketplace/outbox.py).
"""

import time
from datetime import timedelta

import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.services import QUEUE_UNAVAILABLE_MESSAGE
from listings.models import Message
from listings.tests.factories import ListingFactory
from marketplace.celery import app as celery_app
from marketplace.models import OutboxMessage
from marketplace.outbox import outbox_relay
from marketplace.sample_images import render_item

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _queue_length(queue: str) -> int:
    return redis.Redis.from_url(celery_app.conf.broker_url).llen(queue)


def _relay_now() -> int:
    """What the beat's relay task does, without waiting for the outbox's grace period."""
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    return outbox_relay()


def test_prefill_answers_503_with_a_sentence_and_its_run_is_not_left_queued(
    redis_outage, celery_queue, client_for, seller
):
    photo = SimpleUploadedFile("mug.jpg", render_item(shape="mug", color="red"), "image/jpeg")
    started = time.monotonic()
    response = client_for(seller).post("/api/prefill/", {"image": photo})
    answered_in = time.monotonic() - started

    assert response.status_code == 503, response.content
    assert response.json()["detail"] == QUEUE_UNAVAILABLE_MESSAGE
    print(f"503 answered in {answered_in * 1000:.0f} ms")
    assert answered_in < 3, "a broker that refuses connections must not hold the seller up"
    run = PrefillRun.objects.get()
    assert (run.status, run.error_type) == ("failed", "queue_unavailable")
    [pending] = OutboxMessage.objects.all()
    assert pending.sent_at is None and pending.attempts == 1
    assert "Connection refused" in pending.last_error

    redis_outage.end()
    assert _relay_now() == 1
    assert OutboxMessage.objects.get().sent_at is not None
    # Delivered; a worker taking it finds the run finished and calls no model.
    assert _queue_length(celery_queue) == 1


def test_a_message_is_saved_and_its_email_sent_once_redis_is_back(
    redis_outage, start_worker, client_for, seller, buyer
):
    listing = ListingFactory(seller=seller)
    response = client_for(buyer).post(f"/listings/{listing.pk}/contact/", {"body": "Still there?"})

    message = Message.objects.get()
    assert response.status_code == 302 and response.url == message.conversation.get_absolute_url()
    assert message.notified_at is None
    assert OutboxMessage.objects.get().sent_at is None

    redis_outage.end()
    worker = start_worker()
    assert _relay_now() == 1
    deadline = time.monotonic() + 20
    while not Message.objects.get().notified_at and time.monotonic() < deadline:
        time.sleep(0.1)
    assert Message.objects.get().notified_at is not None, worker.tail()
    assert f"To: {seller.email}" in worker.log_text()  # the console email backend's output
    assert _relay_now() == 0, "sent once"
