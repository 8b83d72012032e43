"""The AI pre-fill's records: prompt versions and their labels, and the log of every run."""

import hashlib
import json
import uuid

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from marketplace.storage import PrivateMediaStorage
from marketplace.taxonomy import Category, Condition

from .errors import ErrorType


class PrivateStorage(PrivateMediaStorage):
    """Files the app reads but never serves by a public URL (a run's photo is its seller's
    business): the "private" storage of settings.STORAGES (marketplace/storage.py).

    Kept under this name because the migrations name it."""


private_storage = PrivateStorage()


class PromptVersion(models.Model):
    """An immutable prompt: text + params + draft schema, identified by their content hash."""

    name = models.CharField(max_length=80, help_text="The prompt file's name, e.g. listing_draft.")
    content_hash = models.CharField(
        max_length=64, unique=True, help_text="sha256 of instructions, user text, params, schema."
    )
    instructions = models.TextField()
    user_text = models.TextField()
    params = models.JSONField(default=dict, help_text="temperature, max_output_tokens, ...")
    schema_hash = models.CharField(max_length=16, help_text="Hash of the draft JSON schema.")
    description = models.TextField(blank=True, help_text="What changed, from the prompt file.")
    source_path = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return f"{self.name}@{self.content_hash[:10]}"


class PromptLabel(models.Model):
    """A movable name ("production") pointing at one version; rollback is moving it back."""

    PRODUCTION = "production"

    name = models.CharField(max_length=40, unique=True)
    version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="labels")
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    moved_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.name} -> {self.version}"


class PrefillRun(models.Model):
    """One seller photo sent to the AI, and everything that happened to it."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    ErrorType = ErrorType

    TERMINAL = (Status.SUCCEEDED, Status.FAILED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="prefill_runs"
    )
    photo = models.FileField(storage=private_storage, upload_to="prefill/%Y/%m/")
    thumbnail = models.FileField(storage=private_storage, upload_to="prefill/%Y/%m/thumbs/")
    model_image = models.FileField(
        storage=private_storage,
        upload_to="prefill/%Y/%m/model/",
        blank=True,
        help_text="The JPEG the model is sent, made at upload. Empty on runs from before it was.",
    )
    image_sha256 = models.CharField(max_length=64, db_index=True)
    image_bytes_sent = models.PositiveIntegerField(
        null=True, blank=True, help_text="Size of the JPEG sent to the model."
    )
    prompt_version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="runs")
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=80)
    params = models.JSONField(default=dict, help_text="Everything sent besides prompt and image.")

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A running claim is honoured until then."
    )

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="First claim by a worker.")
    finished_at = models.DateTimeField(null=True, blank=True)
    provider_latency_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Of the attempt that decided the run."
    )

    draft = models.JSONField(null=True, blank=True)
    raw_response = models.JSONField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    error_type = models.CharField(max_length=20, choices=ErrorType.choices, blank=True)
    error_message = models.TextField(blank=True)
    arm = models.ForeignKey(
        "experiments.Arm",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The experiment arm that chose this configuration; empty: production.",
    )
    request_id = models.CharField(
        max_length=128,
        blank=True,
        db_index=True,
        help_text="The upload's request id (X-Request-ID), on every log line of the request and "
        "of the worker's task for this run: search the logs for it to follow one pre-fill.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="prefill_user_recent_idx"),
            # The monitoring rollups recount the runs finished in a minute (monitoring.rollups).
            models.Index(fields=["finished_at"], name="prefill_run_finished_idx"),
        ]

    def __str__(self):
        return f"run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.TERMINAL


class PrefillAttempt(models.Model):
    """One call to the provider. A run has one per try; nothing of a failed try is lost."""

    run = models.ForeignKey(PrefillRun, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField()
    outcome = models.CharField(max_length=20, help_text="ok, or the error type.")
    error_message = models.TextField(blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    raw_response = models.JSONField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="one_row_per_attempt")
        ]

    def __str__(self):
        return f"attempt {self.number} of {self.run_id}: {self.outcome}"


class ProductionConfig(models.Model):
    """What sellers outside an experiment get: each row is one change, the newest is in force.

    Stored so that shipping an arm needs no redeploy; with no row, the environment decides
    (AI_PROVIDER, AI_MODEL, the production prompt label). The prompt version itself is the
    production label's; the row records which version it moved the label to. Rolling back is
    a new row with an older row's values.
    """

    enabled = models.BooleanField(
        default=True,
        help_text="Off: sellers get the plain form and no AI run (a shipped no-AI arm).",
    )
    prompt_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=80, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True, db_index=True)
    note = models.CharField(max_length=300, blank=True)
    experiment_key = models.CharField(
        max_length=60, blank=True, help_text="The experiment whose arm was shipped, if any."
    )

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        if not self.enabled:
            return "AI off"
        return f"{self.prompt_version} on {self.provider}/{self.model}"


class PromptLabelEvent(models.Model):
    """Every move of a label: who pointed it where, and from which version (rollback history)."""

    label = models.CharField(max_length=40)
    from_version = models.ForeignKey(
        PromptVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="+")
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    moved_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-moved_at", "-id"]

    def __str__(self):
        return f"{self.label}: {self.from_version} -> {self.to_version}"


class EvalCase(models.Model):
    """One photo with the right answer for every draft field."""

    class Source(models.TextChoices):
        STARTER = "starter", "Shipped starter set"
        PROMOTED = "promoted", "Promoted from a production run"
        STAFF = "staff", "Added by staff"

    key = models.SlugField(max_length=60, unique=True, help_text="Stable name, e.g. starter-007.")
    image = models.FileField(storage=private_storage, upload_to="evals/")
    image_sha256 = models.CharField(max_length=64)
    expected_title = models.CharField(max_length=120, blank=True)
    expected_description = models.TextField(blank=True)
    expected_category = models.CharField(max_length=32, choices=Category.choices)
    expected_condition = models.CharField(max_length=16, choices=Condition.choices)
    expected_brand = models.CharField(max_length=80, blank=True, help_text="Empty: no brand.")
    expected_color = models.CharField(max_length=40, blank=True, help_text="Empty: no colour.")
    expected_price_eur = models.DecimalField(
        max_digits=9, decimal_places=2, null=True, blank=True, help_text="Empty: no price."
    )
    key_attributes = models.JSONField(
        default=list,
        blank=True,
        help_text='Words a good title/description mentions: ["oak", "chair"].',
    )
    tags = models.JSONField(default=list, blank=True, help_text='e.g. ["hard", "furniture"].')
    must_pass = models.BooleanField(
        default=False, help_text="The gate fails if this case gets a gated field wrong."
    )
    is_active = models.BooleanField(default=True, help_text="Retired cases stay for old runs.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    source_run = models.ForeignKey(
        PrefillRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="eval_cases"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords(excluded_fields=["image"])

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return self.key

    def expected(self) -> dict:
        """Expected values in the draft's shape: empty brand/colour/price are None."""
        return {
            "title": self.expected_title,
            "description": self.expected_description,
            "category": self.expected_category,
            "condition": self.expected_condition,
            "brand": self.expected_brand or None,
            "color": self.expected_color or None,
            "price_eur": float(self.expected_price_eur)
            if self.expected_price_eur is not None
            else None,
        }

    def content_hash(self) -> str:
        """Identity of what is asked and what is right: image + expected values + attributes."""
        payload = {
            "image": self.image_sha256,
            "expected": self.expected(),
            "keys": self.key_attributes,
        }
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class EvalRun(models.Model):
    """One run of a prompt version + model over (part of) the eval set."""

    class Status(models.TextChoices):
        # Started by staff (admin, run_evals --enqueue): waiting in the evals queue for a worker.
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        BROKEN = "broken"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prompt_version = models.ForeignKey(
        PromptVersion, on_delete=models.PROTECT, related_name="eval_runs"
    )
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=80)
    params = models.JSONField(default=dict)
    config_key = models.CharField(
        max_length=16, db_index=True, help_text="Hash of provider, model, params and prompt."
    )
    dataset_version = models.CharField(
        max_length=16, db_index=True, help_text="Empty while queued: set when the run starts."
    )
    tags = models.JSONField(default=list, blank=True)
    limit = models.PositiveIntegerField(null=True, blank=True)
    repeats = models.PositiveSmallIntegerField(default=1)
    case_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    error_message = models.TextField(blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    comparison = models.JSONField(default=dict, blank=True)
    baseline = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    gate_passed = models.BooleanField(null=True)
    gate_reasons = models.JSONField(default=list, blank=True)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    cached_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("start_evalrun", "Can start an eval run (on the evals queue)")]

    def __str__(self):
        return f"eval run {self.pk} ({self.prompt_version.label}, {self.provider}/{self.model})"


class EvalResult(models.Model):
    """One case (one repeat) of an eval run: what came back and how each field scored."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="results")
    case = models.ForeignKey(EvalCase, on_delete=models.PROTECT, related_name="results")
    case_hash = models.CharField(max_length=16, help_text="EvalCase.content_hash at run time.")
    repeat = models.PositiveSmallIntegerField(default=0)
    expected = models.JSONField(help_text="The expected values as they were at run time.")
    output = models.JSONField(null=True, blank=True)
    error_type = models.CharField(max_length=20, blank=True)
    error_message = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    cached = models.BooleanField(default=False)
    scores = models.JSONField(default=dict)
    all_correct = models.BooleanField(default=False)

    class Meta:
        ordering = ["run", "case__key", "repeat"]
        constraints = [
            models.UniqueConstraint(fields=["run", "case", "repeat"], name="one_result_per_repeat")
        ]

    def __str__(self):
        return f"{self.case} in {self.run_id}"


class EvalCacheEntry(models.Model):
    """A provider answer reused by reruns of an unchanged configuration. Errors are never cached."""

    key = models.CharField(max_length=64, unique=True)
    provider = models.CharField(max_length=20)
    model = models.CharField(max_length=80)
    draft = models.JSONField()
    raw_response = models.JSONField(null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.key[:12]
