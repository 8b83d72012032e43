"""Writes of the alerts: rules (admin), the shipped defaults, and the evaluation every minute.

Evaluating a rule reads its metric first, outside any transaction (a source may be slow), then
takes the rule's state row with SELECT ... FOR UPDATE and moves it. A second evaluator at the
same moment (two beat processes, a manual run) waits for that lock, then sees the moved state
and moves nothing: one event, so one notification, per transition. Notifications are rows in
the same transaction, handed to a worker through the transactional outbox.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from marketplace.outbox import outbox_enqueue

from .alert_defaults import default_rules
from .alert_models import (
    AlertEvent,
    AlertMetric,
    AlertNotification,
    AlertRule,
    AlertState,
    AlertStatus,
)
from .alert_selectors import BANNER_FACTS_KEY, alert_banner_facts_compute
from .alert_sources import Reading, reading_for

logger = logging.getLogger(__name__)

DELIVER_TASK = "monitoring.alert_tasks.alert_notification_deliver_task"
NOTIFIED = (AlertStatus.FIRING, AlertStatus.RESOLVED)
# Metrics that read a time window; the others (heartbeats, today's cost, drift) ignore it.
WINDOWED = {
    AlertMetric.NO_USABLE_DRAFT_BURN,
    AlertMetric.UPLOAD_TO_DRAFT_P95,
    AlertMetric.QUEUE_WAIT_P95,
    AlertMetric.THUMBS_DOWN_WEEK_RATIO,
}
# Rollup buckets are kept 30 days at most (the dashboard's longest window).
MAX_WINDOW = timedelta(days=30)
MAX_FOR = timedelta(days=1)


# --- Rules ---------------------------------------------------------------------------------------


def alert_rule_validate(rule: AlertRule) -> None:
    """Raise ValidationError (per field) for a rule the evaluator could not judge sensibly."""
    errors = {}
    if rule.threshold is None or rule.threshold < 0:
        errors["threshold"] = "A threshold of 0 or more (every metric here is >= 0)."
    if rule.for_duration is None or not timedelta(0) <= rule.for_duration <= MAX_FOR:
        errors["for_duration"] = 'The "for" duration is between 0 and one day.'
    if rule.metric in WINDOWED:
        if rule.window is None or not timedelta(minutes=1) <= rule.window <= MAX_WINDOW:
            errors["window"] = "This metric needs a window between 1 minute and 30 days."
    elif rule.window is not None:
        errors["window"] = "This metric has no window; leave it empty."
    errors.update(_burn_rate_errors(rule))
    if errors:
        raise ValidationError(errors)


def _burn_rate_errors(rule: AlertRule) -> dict:
    if rule.metric != AlertMetric.NO_USABLE_DRAFT_BURN:
        extra = {"short_window": rule.short_window, "objective": rule.objective}
        return {name: "Only burn-rate rules use this." for name, v in extra.items() if v}
    errors = {}
    if rule.objective is None or not 0 < rule.objective < 1:
        errors["objective"] = "An objective between 0 and 1, e.g. 0.99."
    if rule.short_window is None or rule.short_window <= timedelta(0):
        errors["short_window"] = "A burn-rate rule needs a short window (e.g. 0:05:00)."
    elif rule.window is not None and rule.short_window >= rule.window:
        errors["short_window"] = "The short window must be shorter than the window."
    return errors


@transaction.atomic
def alert_rule_save(*, rule: AlertRule) -> AlertRule:
    """Create or change a rule (admin); a new rule starts OK. A changed rule keeps its state:
    the next evaluation judges it by the new numbers."""
    alert_rule_validate(rule)
    rule.updated_at = timezone.now()
    rule.save()
    AlertState.objects.get_or_create(rule=rule)
    transaction.on_commit(alert_banner_facts_refresh)  # a disabled rule leaves the banner
    return rule


def alert_banner_facts_refresh() -> None:
    """Store what the admin banner shows (monitoring.alert_selectors: it reads only this).
    Best effort: with the cache (Redis) down, rules are still saved and judged."""
    try:
        cache.set(BANNER_FACTS_KEY, alert_banner_facts_compute(), timeout=None)
    except Exception as exc:  # the cache backend's own error types vary (redis, memcached)
        logger.warning("alerts: the admin banner's facts could not be stored: %s", exc)


def alert_rules_ensure_defaults() -> int:
    """Add the shipped rules that are missing (by key); never changes an existing one. Returns
    how many were added."""
    existing = set(AlertRule.objects.values_list("key", flat=True))
    added = 0
    for values in default_rules():
        if values["key"] not in existing:
            alert_rule_save(rule=AlertRule(**values))
            added += 1
    return added


# --- Evaluation ----------------------------------------------------------------------------------


def alerts_evaluate(*, now: datetime | None = None) -> list[AlertEvent]:
    """Judge every enabled rule once; returns the transitions made. A rule whose source fails
    is logged and noted on its state; the others are still judged."""
    now = now or timezone.now()
    events = []
    for rule in AlertRule.objects.filter(enabled=True).order_by("pk"):
        try:
            reading = reading_for(rule=rule, now=now)
        except Exception as exc:  # one broken source must not silence every other alert
            logger.exception("alert %s: its source failed", rule.key)
            note = f"source error: {type(exc).__name__}: {exc}"
            reading = Reading(value=None, note=note, available=False)
        events += alert_rule_apply(rule=rule, reading=reading, now=now)
    alert_banner_facts_refresh()
    return events


def alert_status_moves(
    *, status: str, since: datetime | None, condition: bool, now: datetime, for_duration
) -> list[str]:
    """The statuses a rule moves through in one evaluation (often none), in order."""
    if condition:
        if status in (AlertStatus.OK, AlertStatus.RESOLVED):
            fires_now = for_duration <= timedelta(0)
            return [AlertStatus.PENDING] + ([AlertStatus.FIRING] if fires_now else [])
        if status == AlertStatus.PENDING and now - since >= for_duration:
            return [AlertStatus.FIRING]
        return []
    if status == AlertStatus.PENDING:
        return [AlertStatus.OK]
    if status == AlertStatus.FIRING:
        return [AlertStatus.RESOLVED]
    return []


@transaction.atomic
def alert_rule_apply(*, rule: AlertRule, reading: Reading, now: datetime) -> list[AlertEvent]:
    """Move the rule's state by one reading, under its row lock; returns the events made."""
    AlertState.objects.get_or_create(rule=rule)
    state = AlertState.objects.select_for_update().get(rule=rule)
    state.last_evaluated_at, state.note = now, reading.note[:200]
    if reading.value is not None:
        state.last_value = reading.value
    moves = []
    if reading.available:
        condition = reading.judged and reading.value is not None and reading.value > rule.threshold
        moves = alert_status_moves(
            status=state.status, since=state.since, condition=condition, now=now,
            for_duration=rule.for_duration,
        )  # fmt: skip
    events = [_move(rule, state, to_status, reading, now) for to_status in moves]
    state.save()
    return events


def _move(rule: AlertRule, state: AlertState, to_status: str, reading: Reading, now) -> AlertEvent:
    event = AlertEvent.objects.create(
        rule=rule, from_status=state.status, to_status=to_status, value=reading.value,
        threshold=rule.threshold, detail=reading.detail, at=now,
    )  # fmt: skip
    state.status, state.since = to_status, now
    if to_status in NOTIFIED:
        alert_notifications_create(event=event, now=now)
    return event


def alert_notifications_create(*, event: AlertEvent, now: datetime) -> list[AlertNotification]:
    """One delivery per channel for this event, handed to a worker once the transaction
    commits (the outbox keeps it if the broker is down)."""
    channels = [AlertNotification.Channel.EMAIL]
    if settings.ALERT_WEBHOOK_URL:
        channels.append(AlertNotification.Channel.WEBHOOK)
    made = []
    for channel in channels:
        notification = AlertNotification.objects.create(
            event=event, channel=channel, next_try_at=now
        )
        outbox_enqueue(task=DELIVER_TASK, args=[notification.pk])
        made.append(notification)
    return made
