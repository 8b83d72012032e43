"""The annotation queue: production runs picked for review, claimed with a lease, corrected by
people, and promoted into the eval set."""

from django.conf import settings
from django.db import models

from ai_prefill.models import EvalCase, PrefillRun


class SamplingPolicy(models.Model):
    """Which runs enter the queue, and how many. One row, edited in admin."""

    sample_thumbs_down = models.BooleanField(default=True, help_text="Every thumbs-down run.")
    sample_failed = models.BooleanField(default=True, help_text="Every failed run.")
    heavy_corrections_min_fields = models.PositiveSmallIntegerField(
        default=3, help_text="Runs whose seller changed at least this many fields (0: off)."
    )
    random_share = models.FloatField(default=0.05, help_text="Share of the other finished runs.")
    daily_cap = models.PositiveIntegerField(default=200, help_text="New tasks per day, at most.")
    balance_categories = models.BooleanField(
        default=True, help_text="Within a reason, take categories in turn."
    )
    double_annotation_share = models.FloatField(
        default=0.10, help_text="Share of tasks annotated by two people (agreement)."
    )
    lease_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="A claimed task returns to the queue after this."
    )
    lookback_days = models.PositiveSmallIntegerField(
        default=14, help_text="Only runs this recent are considered."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "sampling policy"

    def __str__(self):
        return "Sampling policy"

    @classmethod
    def current(cls) -> "SamplingPolicy":
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


class AnnotationTask(models.Model):
    class Reason(models.TextChoices):
        THUMBS_DOWN = "thumbs_down", "Thumbs down"
        FAILED = "failed", "Failed run"
        HEAVY_CORRECTIONS = "heavy_corrections", "Heavily corrected"
        RANDOM = "random", "Random sample"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        DISAGREEMENT = "disagreement", "Needs adjudication"
        ADJUDICATED = "adjudicated", "Adjudicated"

    PRIORITY = {
        Reason.THUMBS_DOWN: 0,
        Reason.FAILED: 1,
        Reason.HEAVY_CORRECTIONS: 2,
        Reason.RANDOM: 3,
    }

    run = models.OneToOneField(PrefillRun, on_delete=models.CASCADE, related_name="annotation_task")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    reason_detail = models.CharField(max_length=200, blank=True, help_text="Why it was picked.")
    category = models.CharField(max_length=32, blank=True, help_text="For balancing the sample.")
    priority = models.PositiveSmallIntegerField(default=3)
    required_annotations = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.OPEN)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    final_values = models.JSONField(null=True, blank=True, help_text="The agreed correct values.")
    promote_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="An annotator asked to promote it; done when the annotations agree.",
    )
    promoted_case = models.OneToOneField(
        EvalCase, null=True, blank=True, on_delete=models.SET_NULL, related_name="annotation_task"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "priority", "created_at"], name="task_queue_idx"),
        ]

    def __str__(self):
        return f"task {self.pk} ({self.get_reason_display()})"


class AgreementReport(AnnotationTask):
    """No table of its own: the admin index entry of the agreement and throughput page (its
    changelist is that page), for leads; no permissions of its own either."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "agreement and throughput report"


class Annotation(models.Model):
    """One person's review of a task: the right value for every field, and the verdict that
    follows from it (annotation.services.annotation_verdicts)."""

    task = models.ForeignKey(AnnotationTask, on_delete=models.CASCADE, related_name="annotations")
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    values = models.JSONField(default=dict, help_text="Correct value per draft field.")
    verdicts = models.JSONField(
        default=dict,
        help_text="Per field: was the AI right? Derived from the run's draft and the values: true "
        "exactly when they are the same value; null for a run with no draft.",
    )
    key_attributes = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    skipped = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the claim began.")
    submitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="one_annotation_per_person")
        ]

    def __str__(self):
        return f"{self.annotator} on {self.task_id}"
