"""The AI pre-fill's records: prompt versions and their labels, and the log of every run."""

import os
import uuid

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models

from .errors import ErrorType


class PrivateStorage(FileSystemStorage):
    """Files the app reads but never serves by URL (a run's photo is its seller's business).

    The location is read from settings on every use, so tests can point it at a temporary folder.
    """

    @property
    def base_location(self):
        return settings.PRIVATE_MEDIA_ROOT

    @property
    def location(self):
        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("Private files have no public URL; serve them through a checked view.")


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

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="prefill_user_recent_idx")]

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
