"""Alerts: rules staff edit in admin, the state of each, its history and the notifications sent.

A rule compares one metric (monitoring.alert_sources) with a threshold every minute
(monitoring.alert_services.alerts_evaluate). Its state moves ok -> pending -> firing -> resolved;
every move is an AlertEvent, and each move to firing or to resolved gets one AlertNotification
per channel, delivered by a worker and retried with backoff from the row (so a restart, or a
broker outage, loses none).
"""

from datetime import timedelta

from django.db import models
from django.utils import timezone

__all__ = [
    "AlertEvent", "AlertMetric", "AlertNotification", "AlertRule", "AlertSeverity", "AlertState",
    "AlertStatus",
]  # fmt: skip


class AlertMetric(models.TextChoices):
    """What a rule reads. Units: the label says; windows are ignored where it says so."""

    NO_USABLE_DRAFT_BURN = (
        "no_usable_draft_burn",
        "No-usable-draft burn rate (x the error budget; long AND short window)",
    )
    UPLOAD_TO_DRAFT_P95 = "upload_to_draft_p95_s", "Upload-to-draft p95 (seconds)"
    COST_TODAY = "cost_today_usd", "Cost today (USD; calendar day, window ignored)"
    QUEUE_WAIT_P95 = "queue_wait_p95_s", "Queue wait p95 (seconds)"
    WORKER_HEARTBEAT_AGE = (
        "worker_heartbeat_age_s",
        "Seconds since the last worker heartbeat (window ignored)",
    )
    BEAT_HEARTBEAT_AGE = (
        "beat_heartbeat_age_s",
        "Seconds since the last beat heartbeat (window ignored)",
    )
    THUMBS_DOWN_WEEK_RATIO = (
        "thumbs_down_week_ratio",
        "Thumbs-down share / the same window one week earlier",
    )
    CATEGORY_DRIFT_PSI = "category_drift_psi", "Category drift PSI (latest daily check)"


class AlertSeverity(models.TextChoices):
    CRITICAL = "critical", "Critical (act now)"
    WARNING = "warning", "Warning (look today)"


class AlertRule(models.Model):
    key = models.SlugField(max_length=60, unique=True, help_text="Stable name used in messages.")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, help_text="Why it matters and what to check.")
    metric = models.CharField(max_length=40, choices=AlertMetric.choices)
    window = models.DurationField(
        null=True,
        blank=True,
        help_text="How far back the metric is computed (e.g. 1:00:00 for one hour).",
    )
    short_window = models.DurationField(
        null=True,
        blank=True,
        help_text="Burn-rate rules only: the condition must hold over this shorter window too, "
        "so the alert resolves soon after the problem stops.",
    )
    objective = models.FloatField(
        null=True,
        blank=True,
        help_text="Burn-rate rules only: the share of runs that must give a usable draft "
        "(0.99); the error budget is 1 - objective.",
    )
    threshold = models.FloatField(help_text="The condition is: metric value above this.")
    for_duration = models.DurationField(
        default=timedelta(0),
        help_text='"For": how long the condition must hold before the alert fires.',
    )
    min_samples = models.PositiveIntegerField(
        default=0,
        help_text="Runs (or ratings) the window needs before the rule is judged; fewer: false.",
    )
    severity = models.CharField(
        max_length=10, choices=AlertSeverity.choices, default=AlertSeverity.WARNING
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["key"]
        permissions = [("receive_alert_notifications", "Receives alert notification emails")]

    def __str__(self):
        return self.name


class AlertStatus(models.TextChoices):
    OK = "ok", "OK"
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertState(models.Model):
    """The one current state of a rule; only the evaluator writes it (under a row lock)."""

    rule = models.OneToOneField(AlertRule, on_delete=models.CASCADE, related_name="state")
    status = models.CharField(
        max_length=10, choices=AlertStatus.choices, default=AlertStatus.OK, db_index=True
    )
    since = models.DateTimeField(null=True, blank=True, help_text="When this status began.")
    last_value = models.FloatField(null=True, blank=True)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(
        max_length=200, blank=True, help_text='Why the last evaluation had no value, e.g. "source '
        'unavailable", or too few samples.'
    )  # fmt: skip

    def __str__(self):
        return f"{self.rule.key}: {self.status}"


class AlertEvent(models.Model):
    """One move of a rule's state: the history staff read, and what notifications are about."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=10, choices=AlertStatus.choices)
    to_status = models.CharField(max_length=10, choices=AlertStatus.choices, db_index=True)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(help_text="The rule's threshold at the time.")
    detail = models.JSONField(default=dict, blank=True, help_text="The source's figures.")
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.rule.key}: {self.from_status} -> {self.to_status}"


class AlertNotification(models.Model):
    """One delivery of one event on one channel; retried from this row until sent or given up."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email to staff"
        WEBHOOK = "webhook", "Webhook (Slack-compatible)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(
        help_text="Pending: not before this. Sending: the claim expires then (a dead worker)."
    )
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel"], name="monitoring_alert_one_notification_per_channel"
            )
        ]

    def __str__(self):
        return f"{self.event} via {self.channel}: {self.status}"
