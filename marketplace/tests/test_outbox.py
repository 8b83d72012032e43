"""The transactional outbox: a task is committed with its data, published once, never lost.

These run in the embedded mode (tasks in-process); the broker-down path through the real kombu
and Redis clients is in ai_prefill/tests/test_integration_broker_down.py.
"""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from marketplace.models import OutboxMessage
from marketplace.outbox import outbox_enqueue, outbox_publish, outbox_relay

pytestmark = pytest.mark.django_db

TASK = "ai_prefill.tasks.prefill_runs_reap_task"  # a real task with nothing to do here


def test_a_task_is_published_when_its_transaction_commits(django_capture_on_commit_callbacks):
    outcomes = []
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox_enqueue(task=TASK, args=[], on_published=outcomes.append)
        assert outcomes == [], "nothing leaves before the commit"
    message.refresh_from_db()
    assert message.sent_at is not None and outcomes == [True]
    assert outbox_publish(message_id=message.pk) is None, "published once"


def test_a_rolled_back_transaction_publishes_nothing(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks(execute=True)
    with capture as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(task=TASK, args=[])
        raise RuntimeError("the caller failed")
    assert callbacks == [] and not OutboxMessage.objects.exists()


def test_the_relay_sends_what_is_pending_and_leaves_fresh_rows_to_their_publisher():
    # Rows whose publish never happened (a process died after the commit, say).
    stuck = [OutboxMessage.objects.create(task=TASK, args=[]) for _ in range(3)]
    fresh = OutboxMessage.objects.create(task=TASK, args=[])
    OutboxMessage.objects.filter(pk__in=[m.pk for m in stuck]).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    assert outbox_relay() == 3
    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 1
    assert OutboxMessage.objects.get(sent_at__isnull=True) == fresh
    assert outbox_relay() == 0


def test_the_relay_deletes_sent_rows_after_two_days():
    old, recent = (OutboxMessage.objects.create(task=TASK, args=[]) for _ in range(2))
    OutboxMessage.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=3))
    OutboxMessage.objects.filter(pk=recent.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    outbox_relay()
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [recent.pk]


def test_staff_with_the_view_permission_see_pending_tasks_read_only(client_for, staff_with, staff):
    OutboxMessage.objects.create(task=TASK, args=["x"], attempts=2, last_error="refused")
    # Read-only even for staff granted the add permission.
    viewer = staff_with("marketplace.view_outboxmessage", "marketplace.add_outboxmessage")
    page = client_for(viewer).get("/admin/marketplace/outboxmessage/?state=pending")
    assert page.status_code == 200 and "refused" in page.content.decode()
    assert client_for(viewer).get("/admin/marketplace/outboxmessage/add/").status_code == 403
    refused = client_for(staff).get("/admin/marketplace/outboxmessage/?state=pending")
    assert refused.status_code == 403
