"""What sellers think of the suggestions (explicit) and what they did with them (implicit).

Recorded from plain data: a run, final field values, timings. Nothing here knows listings.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from ai_prefill.models import PrefillRun
from experiments.models import Arm, Experiment


class SellSession(models.Model):
    """One opening of the Sell form, with or without AI: the unit of time to publish and of
    abandonment, measured the same way in every experiment arm and outside experiments."""

    class Status(models.TextChoices):
        OPEN = "open"
        PUBLISHED = "published"
        ABANDONED = "abandoned"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(
        Experiment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    arm = models.ForeignKey(
        Arm,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The arm the seller was served when the form opened; empty: production.",
    )
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    photo_chosen_at = models.DateTimeField(null=True, blank=True)
    draft_shown_at = models.DateTimeField(
        null=True, blank=True, help_text="When the AI's suggestion filled the form (AI arms only)."
    )
    run = models.ForeignKey(
        PrefillRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    published_at = models.DateTimeField(null=True, blank=True)
    listing_id = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="The listing's id (a plain number: feedback knows no listings).",
    )
    seconds_to_publish = models.FloatField(
        null=True, blank=True, help_text="From the form opening to publish."
    )
    abandoned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [
            models.Index(fields=["arm", "status"], name="sell_session_arm_status_idx"),
            models.Index(fields=["user", "-opened_at"], name="sell_session_user_recent_idx"),
            # The monitoring rollups count sessions by the minute they were decided.
            models.Index(fields=["published_at"], name="sell_session_published_idx"),
            models.Index(fields=["abandoned_at"], name="sell_session_abandoned_idx"),
        ]

    def __str__(self):
        return f"sell session {self.pk} ({self.status})"


class SuggestionRating(models.Model):
    """Thumbs up or down on one run's suggestion, by its seller; changeable."""

    class Rating(models.TextChoices):
        UP = "up", "👍 Helpful"
        DOWN = "down", "👎 Not helpful"

    run = models.ForeignKey(PrefillRun, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.CharField(max_length=4, choices=Rating.choices)
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "user"], name="one_rating_per_run")]
        # The monitoring rollups count thumbs by the minute they were given.
        indexes = [models.Index(fields=["created_at"], name="rating_created_idx")]

    def __str__(self):
        return f"{self.rating} on {self.run_id}"


class PrefillOutcome(models.Model):
    """What became of a run: published (with timings and corrections) or abandoned."""

    class Status(models.TextChoices):
        PUBLISHED = "published"
        ABANDONED = "abandoned"

    run = models.OneToOneField(PrefillRun, on_delete=models.CASCADE, related_name="outcome")
    status = models.CharField(max_length=10, choices=Status.choices, db_index=True)
    listing_id = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="The listing's id (a plain number: feedback knows no listings).",
    )
    form_opened_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    seconds_to_publish = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the Sell form opening to publish."
    )
    fields_changed = models.PositiveSmallIntegerField(default=0)
    recorded_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.run_id}: {self.status}"


class FeedbackReport(PrefillOutcome):
    """No table of its own: the admin index entry of the feedback report (its changelist is the
    report). No permissions of its own either: who may view outcomes may view the report."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "feedback report"


class FieldCorrection(models.Model):
    """One field of one run: what was suggested, what the seller kept, how different they are."""

    class Stage(models.TextChoices):
        PUBLISH = "publish", "At publish"
        LATE = "late", "Later edit"

    outcome = models.ForeignKey(
        PrefillOutcome, on_delete=models.CASCADE, related_name="corrections"
    )
    stage = models.CharField(max_length=8, choices=Stage.choices, default=Stage.PUBLISH)
    field = models.CharField(max_length=20)
    suggested = models.JSONField(null=True, blank=True)
    final = models.JSONField(null=True, blank=True)
    changed = models.BooleanField()
    similarity = models.FloatField(help_text="1 = kept as suggested; 0 = nothing in common.")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["field", "stage"], name="correction_field_stage_idx"),
            # The monitoring rollups count corrections by the minute they were recorded.
            models.Index(fields=["recorded_at"], name="correction_recorded_idx"),
        ]

    def __str__(self):
        return f"{self.field} ({self.stage}): {'changed' if self.changed else 'kept'}"
