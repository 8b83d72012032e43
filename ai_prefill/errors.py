"""Typed provider errors. Transient ones are retried by the task; permanent ones fail the run."""

from django.db import models


class ErrorType(models.TextChoices):
    TIMEOUT = "timeout", "Provider timeout"
    CONNECTION = "connection", "Connection error"
    RATE_LIMITED = "rate_limited", "Rate limited (429)"
    SERVER_ERROR = "server_error", "Provider 5xx"
    BAD_REQUEST = "bad_request", "Rejected request (4xx)"
    AUTH = "auth", "Authentication (401/403)"
    REFUSAL = "refusal", "Model refused"
    INCOMPLETE = "incomplete", "Incomplete answer"
    INVALID_JSON = "invalid_json", "Invalid JSON"
    SCHEMA = "schema", "Answer outside the schema"
    WORKER_LOST = "worker_lost", "Worker lost / stale run"
    WORKER_UNAVAILABLE = "worker_unavailable", "No worker took the run in time"
    QUEUE_UNAVAILABLE = "queue_unavailable", "Task queue unreachable at upload"
    INTERNAL = "internal", "Internal error"


TRANSIENT = frozenset(
    {ErrorType.TIMEOUT, ErrorType.CONNECTION, ErrorType.RATE_LIMITED, ErrorType.SERVER_ERROR}
)


class ProviderError(Exception):
    def __init__(
        self,
        error_type: ErrorType,
        message: str,
        *,
        http_status: int | None = None,
        raw: dict | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.http_status = http_status
        self.raw = raw
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.error_type in TRANSIENT
