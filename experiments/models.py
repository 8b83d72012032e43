"""Experiments, their arms, who is in which arm, who saw it, and what staff did.

Nothing here knows what an arm does: its payload is opaque JSON that a higher layer (ai_prefill)
turns into a configuration. Metrics are names; the layers that own the data compute them.
"""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


def _new_salt() -> str:
    return secrets.token_hex(8)


class Surface(models.TextChoices):
    """Where in the product an experiment runs; one live experiment per surface."""

    SELL = "sell", "Sell form"


class Metric(models.TextChoices):
    """The business metrics an experiment can be judged by (computed by the feedback layer)."""

    TIME_TO_PUBLISH = "time_to_publish", "Time from opening the Sell form to publishing"
    ABANDONMENT = "abandonment", "Abandonment (Sell form opened, nothing published)"
    FIELD_CORRECTIONS = "field_corrections", "Per-field corrections of the suggestion"
    THUMBS_UP = "thumbs_up", "Thumbs-up share of rated suggestions"


SECONDARY_METRICS = [Metric.ABANDONMENT, Metric.FIELD_CORRECTIONS, Metric.THUMBS_UP]


class Experiment(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused (everyone on production)"
        ENDED = "ended", "Ended"

    LIVE = (Status.RUNNING, Status.PAUSED)

    key = models.SlugField(
        max_length=60, unique=True, help_text="Stable name, e.g. prompt-v3-vs-v2."
    )
    hypothesis = models.TextField(
        help_text="In words: what you change, what you expect sellers to do differently, and why."
    )
    surface = models.CharField(max_length=10, choices=Surface.choices, default=Surface.SELL)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    primary_metric = models.CharField(
        max_length=20,
        choices=[(Metric.TIME_TO_PUBLISH.value, Metric.TIME_TO_PUBLISH.label)],
        default=Metric.TIME_TO_PUBLISH,
    )
    secondary_metrics = models.JSONField(
        default=list, blank=True, help_text="Names from Metric: abandonment, field_corrections..."
    )
    minimum_effect = models.FloatField(
        default=0.2,
        validators=[MinValueValidator(0.01), MaxValueValidator(0.9)],
        help_text="The smallest change in time to publish worth detecting: 0.2 = 20% faster.",
    )
    alpha = models.FloatField(
        default=0.05,
        validators=[MinValueValidator(0.001), MaxValueValidator(0.2)],
        help_text="False-positive rate of the decision (two-sided), across arms (Holm).",
    )
    enrollment_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=5,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of sellers in the experiment; raising it only adds sellers.",
    )
    salt = models.CharField(
        max_length=32,
        default=_new_salt,
        editable=False,
        help_text="Hashed with the seller's id to decide enrollment and arm (docs/experiments.md).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    shipped_arm = models.ForeignKey(
        "Arm", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    srm_acknowledged_at = models.DateTimeField(
        null=True, blank=True, help_text="A sample-ratio mismatch was looked into; ship allowed."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["surface"],
                condition=Q(status__in=["running", "paused"]),
                name="one_live_experiment_per_surface",
            )
        ]

    def __str__(self):
        return self.key

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class Arm(models.Model):
    """One variant. Its payload is whatever the layer above needs (ai_prefill: a configuration)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused (its sellers get production)"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="arms")
    key = models.SlugField(max_length=40, help_text="e.g. control, prompt-v3, no-ai.")
    description = models.CharField(max_length=200, blank=True)
    is_control = models.BooleanField(default=False, help_text="The arm the others are compared to.")
    weight = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1)], help_text="Relative share of the sellers."
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Order of the arms on the weight line (part of the assignment)."
    )
    payload = models.JSONField(default=dict, blank=True, help_text="What the arm does (opaque).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    paused_reason = models.TextField(blank=True)
    evidence = models.JSONField(
        default=dict, blank=True, help_text="Why it may run, recorded at start (an eval run...)."
    )
    override_reason = models.TextField(
        blank=True, help_text="Why it was started without the evidence the start check wanted."
    )

    class Meta:
        ordering = ["experiment", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "key"], name="arm_key_per_experiment"),
            models.UniqueConstraint(
                fields=["experiment"], condition=Q(is_control=True), name="one_control_arm"
            ),
        ]

    def __str__(self):
        return f"{self.experiment.key}/{self.key}" if self.experiment_id else self.key


class Assignment(models.Model):
    """The first arm a seller was given in an experiment; it wins afterwards, whatever changes."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "user"], name="one_assignment_per_user")
        ]

    def __str__(self):
        return f"{self.user_id} in {self.arm_id}"


class Exposure(models.Model):
    """An enrolled seller saw the surface: once per sell session."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    arm = models.ForeignKey(Arm, on_delete=models.CASCADE, related_name="exposures")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_id = models.UUIDField(help_text="The sell session it happened in.")
    exposed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "session_id"], name="one_exposure_per_session"
            )
        ]

    def __str__(self):
        return f"{self.user_id} saw {self.arm_id}"


class ExperimentEvent(models.Model):
    """The audit log: who created, started, ramped, paused, shipped... and why."""

    class Action(models.TextChoices):
        CREATED = "created"
        STARTED = "started"
        EVIDENCE_OVERRIDDEN = "evidence_overridden", "started without evidence"
        RAMPED = "ramped"
        PAUSED = "paused"
        RESUMED = "resumed"
        ARM_PAUSED = "arm_paused", "arm paused"
        ARM_RESUMED = "arm_resumed", "arm resumed"
        GUARDRAIL_BREACHED = "guardrail_breached", "guardrail breached"
        SRM_ACKNOWLEDGED = "srm_acknowledged", "sample-ratio mismatch acknowledged"
        ENDED = "ended"
        SHIPPED = "shipped"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="events")
    arm = models.ForeignKey(Arm, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty: the system (a guardrail check).",
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    note = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.experiment_id}: {self.action}"


class Guardrail(models.Model):
    """A limit an arm must stay within; a breach pauses the arm (checked every minute)."""

    class Metric(models.TextChoices):
        FAILED_OR_EMPTY = "failed_or_empty", "Failed or empty drafts (share)"
        P95_SECONDS_TO_DRAFT = "p95_seconds_to_draft", "p95 time to draft (seconds)"
        COST_PER_PUBLISHED = "cost_per_published_usd", "Cost per published listing (USD)"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="guardrails")
    metric = models.CharField(max_length=24, choices=Metric.choices)
    threshold = models.FloatField(help_text="Breached when the arm's value is above this.")
    min_sample = models.PositiveIntegerField(
        default=30, help_text="Not judged before the arm has this many runs (or publishes)."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "metric"], name="one_guardrail_per_metric"
            )
        ]

    def __str__(self):
        return f"{self.get_metric_display()} <= {self.threshold}"
