"""The alert engine, with a metric source the test sets by hand: states, history, one
notification per transition (email and webhook, the webhook a local HTTP server), retries with
backoff, the admin banner, and the rules' admin for staff holding only the rules' permissions.
The clock is moved with time-machine, never slept."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.alert_models import (
    AlertEvent,
    AlertNotification,
    AlertRule,
    AlertState,
    AlertStatus,
)
from monitoring.alert_notify import alert_backoff, alert_notifications_retry_due
from monitoring.alert_services import alert_rule_save, alert_status_moves, alerts_evaluate
from monitoring.alert_sources import SOURCES, UNAVAILABLE, Reading

from .alert_webhook_server import WebhookServer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
OK, PENDING, FIRING, RESOLVED = (
    AlertStatus.OK, AlertStatus.PENDING, AlertStatus.FIRING, AlertStatus.RESOLVED
)  # fmt: skip


class Gauge:
    """What the test's metric source reads: set `value`, `judged` and `available`."""

    def __init__(self):
        self.value, self.judged, self.available, self.fail = None, True, True, False

    def read(self, *, rule, now) -> Reading:
        if self.fail:
            raise RuntimeError("the source broke")
        note = "" if self.available else UNAVAILABLE
        return Reading(
            value=self.value, judged=self.judged, available=self.available, note=note,
            detail={"v": self.value},
        )  # fmt: skip


@pytest.fixture
def gauge(monkeypatch):
    gauge = Gauge()
    monkeypatch.setitem(SOURCES, "test_gauge", gauge.read)
    return gauge


@pytest.fixture
def rule(db):
    # The shipped rules read sources this test does not feed; they have their own tests.
    AlertRule.objects.update(enabled=False)
    return alert_rule_save(
        rule=AlertRule(
            key="test-gauge", name="Test gauge high", description="Look at the gauge.",
            metric="test_gauge", threshold=10, for_duration=5 * MINUTE, severity="critical",
        )
    )  # fmt: skip


@pytest.fixture
def oncall(staff_with):
    """Staff who receive alert emails (that permission only)."""
    return staff_with("monitoring.receive_alert_notifications", username="oncall")


@pytest.fixture
def webhook(settings):
    with WebhookServer() as server:
        settings.ALERT_WEBHOOK_URL = server.url
        yield server


@pytest.fixture
def evaluate(django_capture_on_commit_callbacks):
    """evaluate() -> the transitions of one evaluation at the frozen clock's time; the
    notifications' tasks run as their transaction commits (in-process here)."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return [(e.from_status, e.to_status) for e in alerts_evaluate()]

    return run


def _state(rule) -> AlertState:
    return AlertState.objects.get(rule=rule)


@pytest.mark.parametrize(
    ("status", "held", "condition", "expected"),
    [
        (OK, None, True, [PENDING]),
        (RESOLVED, None, True, [PENDING]),
        (PENDING, 4 * MINUTE, True, []),
        (PENDING, 5 * MINUTE, True, [FIRING]),
        (FIRING, 9 * MINUTE, True, []),
        (PENDING, 1 * MINUTE, False, [OK]),
        (FIRING, 9 * MINUTE, False, [RESOLVED]),
        (OK, None, False, []),
        (RESOLVED, None, False, []),
    ],
)
def test_status_moves(status, held, condition, expected):
    since = T0 - held if held is not None else None
    moves = alert_status_moves(
        status=status, since=since, condition=condition, now=T0, for_duration=5 * MINUTE
    )
    assert moves == expected


def test_status_moves_with_no_for_duration_fire_at_once():
    moves = alert_status_moves(
        status=OK, since=None, condition=True, now=T0, for_duration=timedelta(0)
    )
    assert moves == [PENDING, FIRING]


def test_a_rule_fires_after_its_for_duration_then_resolves_once(
    rule, gauge, oncall, webhook, evaluate
):
    with time_machine.travel(T0, tick=False) as clock:
        gauge.value = 25.0
        assert evaluate() == [(OK, PENDING)]
        clock.shift(4 * MINUTE)
        assert evaluate() == []  # held 4 of its 5 minutes
        clock.shift(MINUTE)
        assert evaluate() == [(PENDING, FIRING)]
        assert (_state(rule).status, _state(rule).since) == (FIRING, T0 + 5 * MINUTE)
        clock.shift(MINUTE)
        assert evaluate() == []  # still firing: no second notification
        gauge.value = 3.0
        clock.shift(MINUTE)
        assert evaluate() == [(FIRING, RESOLVED)]
        clock.shift(MINUTE)
        assert evaluate() == []

    history = list(AlertEvent.objects.filter(rule=rule).order_by("at", "pk"))
    assert [(e.to_status, e.value) for e in history] == [
        (PENDING, 25.0), (FIRING, 25.0), (RESOLVED, 3.0)
    ]  # fmt: skip
    assert _state(rule).last_value == 3.0
    # One email and one webhook message per transition to firing and to resolved.
    assert [m.subject for m in mail.outbox] == [
        "[FIRING] Critical: Test gauge high", "[RESOLVED] Critical: Test gauge high"
    ]  # fmt: skip
    assert mail.outbox[0].to == [oncall.email]
    texts = webhook.texts()
    assert len(texts) == 2
    assert texts[0].startswith("[FIRING] Critical: Test gauge high\nFiring since 2026-03-02")
    assert "25 > 10" in texts[0] and "Look at the gauge." in texts[0]
    assert texts[1].startswith("[RESOLVED]") and "3 <= 10" in texts[1]
    assert f"/admin/monitoring/alertevent/?rule__id__exact={rule.pk}" in texts[1]
    assert set(AlertNotification.objects.values_list("status", flat=True)) == {"sent"}


def test_a_condition_gone_before_its_for_duration_is_back_to_ok_without_notice(
    rule, gauge, webhook, evaluate
):
    with time_machine.travel(T0, tick=False) as clock:
        gauge.value = 25.0
        evaluate()
        clock.shift(2 * MINUTE)
        gauge.value = 1.0
        assert evaluate() == [(PENDING, OK)]
    assert not AlertNotification.objects.exists()
    assert webhook.texts() == [] and mail.outbox == []


def test_no_data_leaves_the_state_as_it_is_and_says_why(rule, gauge, evaluate):
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    with time_machine.travel(T0, tick=False) as clock:
        gauge.value = 25.0
        assert evaluate() == [(OK, PENDING), (PENDING, FIRING)]
        gauge.value, gauge.available = None, False
        clock.shift(MINUTE)
        assert evaluate() == []
    state = _state(rule)
    assert (state.status, state.note, state.last_value) == (FIRING, UNAVAILABLE, 25.0)
    assert state.last_evaluated_at == T0 + MINUTE


def test_too_few_samples_count_as_false(rule, gauge, evaluate):
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    with time_machine.travel(T0, tick=False) as clock:
        gauge.value, gauge.judged = 25.0, False
        assert evaluate() == []
        assert _state(rule).status == OK and _state(rule).last_value == 25.0
        gauge.judged = True
        clock.shift(MINUTE)
        assert evaluate() == [(OK, PENDING), (PENDING, FIRING)]
        gauge.value, gauge.judged = None, False  # e.g. no runs left to take a percentile of
        clock.shift(MINUTE)
        assert evaluate() == [(FIRING, RESOLVED)]
    assert _state(rule).last_value == 25.0  # the last value there was


def test_a_failing_source_is_noted_and_other_rules_still_judged(rule, gauge, monkeypatch, evaluate):
    monkeypatch.setitem(SOURCES, "test_other", lambda *, rule, now: Reading(value=99.0))
    other = alert_rule_save(
        rule=AlertRule(key="other", name="Other", metric="test_other", threshold=1)
    )
    gauge.fail = True
    with time_machine.travel(T0, tick=False):
        assert evaluate() == [(OK, PENDING), (PENDING, FIRING)]
    assert _state(other).status == FIRING
    assert _state(rule).note == "source error: RuntimeError: the source broke"


def test_disabled_rules_are_not_judged(rule, gauge, evaluate):
    rule.enabled = False
    alert_rule_save(rule=rule)
    gauge.value = 25.0
    assert evaluate() == []
    assert _state(rule).last_evaluated_at is None


# --- Delivery: backoff, and rows that outlive a dead process -------------------------------------


def test_backoff_doubles_up_to_its_cap(settings):
    settings.ALERT_NOTIFY_BACKOFF_SECONDS, settings.ALERT_NOTIFY_BACKOFF_MAX_SECONDS = 30, 200
    assert [alert_backoff(n).total_seconds() for n in (1, 2, 3, 4, 5)] == [30, 60, 120, 200, 200]


def test_webhook_answering_500_is_retried_with_backoff(rule, gauge, webhook, oncall, evaluate):
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    webhook.statuses = [500, 500]
    with time_machine.travel(T0, tick=False) as clock:
        gauge.value = 25.0
        evaluate()  # first try: 500
        hook = AlertNotification.objects.get(channel="webhook")
        assert (hook.status, hook.attempts, hook.next_try_at) == ("pending", 1, T0 + 30 * SECOND)
        assert hook.last_error == "webhook answered 500"
        clock.shift(29 * SECOND)
        assert alert_notifications_retry_due() == 0  # backoff not over: nothing sent
        clock.shift(1 * SECOND)
        assert alert_notifications_retry_due() == 0  # second try at +30 s: 500 again
        hook.refresh_from_db()
        assert (hook.attempts, hook.next_try_at) == (2, T0 + 90 * SECOND)
        clock.shift(59 * SECOND)
        assert alert_notifications_retry_due() == 0
        clock.shift(1 * SECOND)
        assert alert_notifications_retry_due() == 1  # third try at +90 s: delivered
    hook.refresh_from_db()
    assert (hook.status, hook.attempts, hook.last_error) == ("sent", 3, "")
    assert len(webhook.texts()) == 3 and len(set(webhook.texts())) == 1
    assert len(mail.outbox) == 1  # the email went at the first try, and only then


def test_a_notification_gives_up_after_its_attempts(rule, gauge, webhook, settings, evaluate):
    settings.ALERT_NOTIFY_MAX_ATTEMPTS = 2
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    webhook.statuses = [503] * 5
    with time_machine.travel(T0, tick=False) as clock:
        gauge.value = 25.0
        evaluate()
        clock.shift(timedelta(hours=2))
        alert_notifications_retry_due()
        clock.shift(timedelta(hours=2))
        alert_notifications_retry_due()
    hook = AlertNotification.objects.get(channel="webhook")
    assert (hook.status, hook.attempts) == ("failed", 2)
    assert len(webhook.texts()) == 2


def test_notifications_left_by_a_process_that_died_are_sent_by_the_sweep(
    rule, gauge, webhook, oncall
):
    """The transition committed but its process died before handing the task to a worker (no
    on-commit callback ran here): the rows wait, and the retry sweep sends them."""
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    with time_machine.travel(T0, tick=False) as clock:
        gauge.value = 25.0
        alerts_evaluate()
        assert AlertNotification.objects.filter(status="pending").count() == 2
        assert webhook.texts() == []
        clock.shift(MINUTE)
        assert alert_notifications_retry_due() == 2
        assert alert_notifications_retry_due() == 0  # sent once, not again
    assert len(webhook.texts()) == 1 and len(mail.outbox) == 1


def test_no_one_to_email_is_a_visible_failure(rule, gauge, evaluate):
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    with time_machine.travel(T0, tick=False):
        gauge.value = 25.0
        evaluate()
    email = AlertNotification.objects.get(channel="email")
    assert email.status == "pending" and "no one to email" in email.last_error
    assert not AlertNotification.objects.filter(channel="webhook").exists()  # not configured


def test_the_email_list_setting_is_emailed_too(rule, gauge, oncall, settings, evaluate):
    settings.ALERT_EMAIL_RECIPIENTS = ["pager@example.com"]
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    gauge.value = 25.0
    evaluate()
    assert sorted(mail.outbox[0].to) == sorted([oncall.email, "pager@example.com"])


# --- The banner ----------------------------------------------------------------------------------


def test_the_banner_shows_on_admin_pages_while_firing_only(
    rule, gauge, staff, client_for, evaluate
):
    client = client_for(staff)  # any staff member, whatever their permissions
    banner = "Alert firing: Test gauge high"
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    assert banner not in client.get(reverse("admin:index")).content.decode()
    gauge.value = 25.0
    evaluate()
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("admin:index")).content.decode()
    assert banner in page
    assert not [q for q in queries if "monitoring_alert" in q["sql"]]  # read from the cache
    assert f'href="/admin/monitoring/alertevent/?rule__id__exact={rule.pk}"' in page
    assert banner in client.get(reverse("admin:password_change")).content.decode()
    gauge.value = 1.0
    evaluate()
    assert banner not in client.get(reverse("admin:index")).content.decode()


def test_the_banner_is_not_on_public_pages(rule, gauge, evaluate, seller, client_for):
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    gauge.value = 25.0
    evaluate()
    page = client_for(seller).get("/").content.decode()
    assert "Alert firing" not in page


# --- The rules in admin --------------------------------------------------------------------------

RULE_EDITOR = ("monitoring.view_alertrule", "monitoring.change_alertrule")


def _form(rule: AlertRule, **changes) -> dict:
    data = {
        "name": rule.name, "description": rule.description, "metric": rule.metric,
        "window": "" if rule.window is None else str(rule.window),
        "short_window": "" if rule.short_window is None else str(rule.short_window),
        "objective": "" if rule.objective is None else rule.objective,
        "threshold": rule.threshold, "for_duration": str(rule.for_duration),
        "min_samples": rule.min_samples, "severity": rule.severity, "enabled": "on",
    }  # fmt: skip
    data.update(changes)
    return data


def test_staff_with_the_rule_permissions_edit_a_shipped_rule(staff_with, client_for):
    editor = client_for(staff_with(*RULE_EDITOR, username="ops"))
    rule = AlertRule.objects.get(key="upload-to-draft-p95")
    url = reverse("admin:monitoring_alertrule_change", args=[rule.pk])
    assert editor.get(url).status_code == 200
    response = editor.post(url, _form(rule, threshold="10", for_duration="00:10:00"))
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.threshold, rule.for_duration) == (10.0, 10 * MINUTE)
    assert rule.updated_at > rule.created_at


@pytest.mark.parametrize(
    ("key", "changes", "field"),
    [
        ("upload-to-draft-p95", {"threshold": "-1"}, "threshold"),
        ("upload-to-draft-p95", {"window": ""}, "window"),
        ("upload-to-draft-p95", {"for_duration": "2 00:00:00"}, "for_duration"),
        ("worker-heartbeat", {"window": "01:00:00"}, "window"),
        ("no-usable-draft-burn-fast", {"short_window": "02:00:00"}, "short_window"),
        ("no-usable-draft-burn-fast", {"objective": "1.5"}, "objective"),
        ("queue-wait-p95", {"objective": "0.9"}, "objective"),
    ],
)
def test_the_admin_refuses_rules_it_could_not_judge(staff_with, client_for, key, changes, field):
    editor = client_for(staff_with(*RULE_EDITOR, username="ops"))
    rule = AlertRule.objects.get(key=key)
    before = AlertRule.objects.filter(pk=rule.pk).values().get()
    url = reverse("admin:monitoring_alertrule_change", args=[rule.pk])
    response = editor.post(url, _form(rule, **changes))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert AlertRule.objects.filter(pk=rule.pk).values().get() == before


def test_staff_add_a_rule_which_starts_ok(staff_with, client_for):
    editor = client_for(staff_with(*RULE_EDITOR, "monitoring.add_alertrule", username="ops"))
    data = {
        "key": "cost-today-hard", "name": "Cost today way over", "metric": "cost_today_usd",
        "threshold": "100", "for_duration": "0:00:00", "min_samples": "0",
        "severity": "critical", "enabled": "on",
    }  # fmt: skip
    response = editor.post(reverse("admin:monitoring_alertrule_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AlertRule.objects.get(key="cost-today-hard").state.status == OK


def test_rules_cannot_be_deleted_and_history_is_read_only(staff_with, client_for):
    everything = (*RULE_EDITOR, "monitoring.delete_alertrule", "monitoring.view_alertevent")
    editor = client_for(staff_with(*everything, username="ops"))
    rule = AlertRule.objects.get(key="worker-heartbeat")
    delete = reverse("admin:monitoring_alertrule_delete", args=[rule.pk])
    assert editor.post(delete, {"post": "yes"}).status_code == 403
    assert AlertRule.objects.filter(pk=rule.pk).exists()
    assert editor.get(reverse("admin:monitoring_alertevent_changelist")).status_code == 200
    assert editor.get(reverse("admin:monitoring_alertevent_add")).status_code == 403


def test_staff_without_the_permissions_cannot_see_the_rules(staff, client_for):
    client = client_for(staff)
    assert client.get(reverse("admin:monitoring_alertrule_changelist")).status_code == 403
    assert client.get(reverse("admin:monitoring_alertevent_changelist")).status_code == 403


def test_the_banner_warns_when_the_rules_are_not_being_judged(rule, gauge, staff, client_for,
                                                                 settings):  # fmt: skip
    settings.REDIS_URL = "redis://127.0.0.1:6379/6"  # the production shape: beat should run
    client = client_for(staff)
    stalled = "Alerts are not being evaluated (last evaluation: none recorded)"
    with time_machine.travel(T0, tick=False) as clock:
        assert stalled in client.get(reverse("admin:index")).content.decode()
        gauge.value = 1.0
        alerts_evaluate()
        clock.shift(2 * MINUTE)
        assert "not being evaluated" not in client.get(reverse("admin:index")).content.decode()
        clock.shift(2 * MINUTE)
        assert "Alerts are not being evaluated (last evaluation: " in (
            client.get(reverse("admin:index")).content.decode()
        )
    settings.REDIS_URL = ""  # embedded: no beat by design, no warning
    assert "not being evaluated" not in client.get(reverse("admin:index")).content.decode()


def test_the_command_judges_the_rules_once(rule, gauge):
    gauge.value = 25.0
    out = StringIO()
    call_command("monitoring_alerts_evaluate", stdout=out)
    assert out.getvalue() == "test-gauge: ok -> pending\n1 transition(s)\n"
    assert _state(rule).status == PENDING


def test_the_rule_list_shows_each_rules_state(rule, gauge, staff_with, client_for, evaluate):
    viewer = client_for(
        staff_with("monitoring.view_alertrule", "monitoring.view_alertevent",
                   "monitoring.view_alertnotification", username="viewer")
    )  # fmt: skip
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    gauge.value = 25.0
    evaluate()
    page = viewer.get(reverse("admin:monitoring_alertrule_changelist")).content.decode()
    assert "Test gauge high" in page and "Firing" in page and ">25<" in page
    history = viewer.get(
        reverse("admin:monitoring_alertevent_changelist") + f"?rule__id__exact={rule.pk}"
    )
    assert history.status_code == 200 and history.context["cl"].result_count == 2
    deliveries = viewer.get(reverse("admin:monitoring_alertnotification_changelist"))
    assert deliveries.status_code == 200 and deliveries.context["cl"].result_count == 1


def test_a_send_that_crashes_counts_as_a_failed_attempt(rule, gauge, oncall, monkeypatch, evaluate):
    def broken(event):
        raise ValueError("template missing")

    monkeypatch.setattr("monitoring.alert_notify._send_email", broken)
    rule.for_duration = timedelta(0)
    alert_rule_save(rule=rule)
    with time_machine.travel(T0, tick=False):
        gauge.value = 25.0
        evaluate()
    email = AlertNotification.objects.get(channel="email")
    assert (email.status, email.attempts) == ("pending", 1)
    assert email.last_error == "ValueError: template missing"
    assert email.next_try_at == T0 + 30 * SECOND
