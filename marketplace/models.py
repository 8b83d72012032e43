from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """Trova's user. Its own model from day one, so fields can be added without a migration war."""

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class OutboxMessage(models.Model):
    """A Celery task to send once the transaction that asked for it has committed.

    Written in the same transaction as the data it is about, so a task is never lost to a broker
    that is down or a process that dies between the commit and the publish: marketplace.outbox
    publishes it on commit, and the relay publishes whatever is still pending once the broker is
    back."""

    task = models.CharField(max_length=200, help_text="The Celery task's registered name.")
    args = models.JSONField(default=list, help_text="Its positional arguments (JSON).")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Handed to the broker.")
    attempts = models.PositiveIntegerField(default=0, help_text="Failed publishes so far.")
    last_error = models.TextField(blank=True, help_text="Why the last publish failed.")
    request_id = models.CharField(
        max_length=128,
        blank=True,
        help_text="The web request that queued it (X-Request-ID): sent with the task, so its "
        "log lines carry it even when the relay publishes it later, from another process.",
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(sent_at__isnull=True),
                name="outbox_pending_idx",
            )
        ]

    def __str__(self):
        state = "sent" if self.sent_at else f"pending ({self.attempts} failed)"
        return f"{self.task}{tuple(self.args)} {state}"
