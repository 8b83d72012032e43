"""Two evaluators at once (two beat processes, a manual run during beat's) must notify once per
transition: each on its own PostgreSQL connection, released at the same instant.

SQLite serialises every write, so this only means something on PostgreSQL (as `make test` and CI
run it); elsewhere it skips, saying so.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from monitoring import alert_tasks  # noqa: F401 - registered before threads run them
from monitoring.alert_models import AlertEvent, AlertNotification, AlertRule, AlertStatus
from monitoring.alert_notify import alert_notification_deliver
from monitoring.alert_services import alert_rule_save, alerts_evaluate
from monitoring.alert_sources import SOURCES, Reading
from tests.concurrency import in_parallel, needs_postgresql

from .alert_webhook_server import WebhookServer

pytestmark = pytest.mark.django_db(transaction=True)

EVALUATORS = 6
RULES = 4
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def level(monkeypatch):
    """The value every test rule reads; set `level["value"]`."""
    level = {"value": 0.0}
    monkeypatch.setitem(SOURCES, "test_level", lambda *, rule, now: Reading(level["value"]))
    return level


def test_evaluators_at_once_notify_once_per_transition(level, staff_with, settings):
    needs_postgresql()
    staff_with("monitoring.receive_alert_notifications", username="oncall")
    AlertRule.objects.update(enabled=False)
    for number in range(RULES):
        alert_rule_save(
            rule=AlertRule(key=f"level-{number}", name=f"Level {number}", metric="test_level",
                           threshold=10)
        )  # fmt: skip
    with WebhookServer() as webhook:
        settings.ALERT_WEBHOOK_URL = webhook.url
        level["value"] = 50.0
        in_parallel([lambda: alerts_evaluate(now=T0)] * EVALUATORS)
        level["value"] = 1.0
        in_parallel([lambda: alerts_evaluate(now=T0 + timedelta(minutes=1))] * EVALUATORS)
        texts = webhook.texts()

    moves = list(AlertEvent.objects.values_list("rule__key", "to_status"))
    for number in range(RULES):
        key = f"level-{number}"
        expected = [AlertStatus.PENDING, AlertStatus.FIRING, AlertStatus.RESOLVED]
        assert sorted(to for k, to in moves if k == key) == sorted(expected), moves
    # One email and one webhook message per rule and transition (firing, resolved).
    assert AlertNotification.objects.count() == RULES * 2 * 2
    assert len(mail.outbox) == RULES * 2
    assert len(texts) == RULES * 2 and len(set(texts)) == RULES * 2


def test_deliverers_at_once_send_a_notification_once(level, settings):
    """The outbox's task and the retry sweep may take the same row at the same moment."""
    needs_postgresql()
    AlertRule.objects.update(enabled=False)
    alert_rule_save(rule=AlertRule(key="level", name="Level", metric="test_level", threshold=10))
    with WebhookServer() as webhook:
        settings.ALERT_WEBHOOK_URL = webhook.url
        level["value"] = 50.0
        alerts_evaluate(now=T0)  # sent at once (autocommit)
        # Make it due again, as if the worker that sent it died before marking it sent.
        hook = AlertNotification.objects.get(channel="webhook")
        AlertNotification.objects.filter(pk=hook.pk).update(status="sending", next_try_at=T0)
        webhook.received.clear()
        sent = in_parallel(
            [lambda: alert_notification_deliver(notification_id=hook.pk)] * EVALUATORS
        )
        texts = webhook.texts()
    assert sent.count(True) == 1 and len(texts) == 1
