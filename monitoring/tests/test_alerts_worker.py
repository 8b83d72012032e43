"""A transition made while Redis is down: its notifications wait in the outbox, and once Redis
is back a real worker (prefork subprocess, production settings) emails staff and posts to the
webhook, once."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace.models import OutboxMessage
from marketplace.outbox import outbox_relay
from monitoring.alert_models import AlertNotification, AlertRule
from monitoring.alert_services import alert_rule_save, alerts_evaluate
from monitoring.alert_sources import SOURCES, Reading

from .alert_webhook_server import WebhookServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _relay_now() -> int:
    """What the beat's relay task does, without waiting for the outbox's grace period."""
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    return outbox_relay()


def test_notifications_made_during_an_outage_are_delivered_by_a_worker_once_redis_is_back(
    redis_outage, start_worker, staff_with, monkeypatch, settings, client_for
):
    oncall = staff_with("monitoring.receive_alert_notifications", username="oncall")
    monkeypatch.setitem(SOURCES, "test_level", lambda *, rule, now: Reading(50.0))
    AlertRule.objects.update(enabled=False)
    alert_rule_save(rule=AlertRule(key="level", name="Level high", metric="test_level",
                                   threshold=10))  # fmt: skip
    with WebhookServer() as webhook:
        settings.ALERT_WEBHOOK_URL = webhook.url
        assert [e.to_status for e in alerts_evaluate()] == ["pending", "firing"]
        assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 2  # broker down
        assert client_for(oncall).get("/admin/").status_code == 200  # no banner, no failure

        redis_outage.end()
        worker = start_worker(ALERT_WEBHOOK_URL=webhook.url)
        assert _relay_now() == 2
        deadline = time.monotonic() + 20
        while AlertNotification.objects.exclude(status="sent").exists():
            assert time.monotonic() < deadline, worker.tail()
            time.sleep(0.1)
        texts = webhook.texts()

    assert len(texts) == 1 and texts[0].startswith("[FIRING] Warning: Level high"), texts
    assert f"To: {oncall.email}" in worker.log_text()  # the console email backend's output
    assert _relay_now() == 0, "sent once"
