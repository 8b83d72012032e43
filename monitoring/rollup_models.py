"""Pre-aggregated figures of the pre-fill, per time bucket and dimension, for the dashboard and
the alerts: one row per (size, start, prompt version, provider, model, arm).

Dimensions are plain values, not foreign keys, with 0 / "" meaning "none" (arm 0 is production,
prompt version 0 and provider "" are sell sessions without a run), so that the unique constraint
holds on every database (NULLs are distinct in a unique index) and deleting a prompt version or
an arm never has to touch the rollups.
"""

from django.db import models


class MetricBucket(models.Model):
    """The figures of one bucket of time for one dimension, recomputed from the source rows."""

    class Size(models.TextChoices):
        MINUTE = "minute"
        HOUR = "hour"
        DAY = "day"

    size = models.CharField(max_length=6, choices=Size.choices)
    start = models.DateTimeField(help_text="Start of the bucket (UTC); it lasts one `size`.")
    prompt_version_id = models.PositiveIntegerField(default=0, help_text="0: no run (sessions).")
    provider = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=80, blank=True)
    arm_id = models.PositiveIntegerField(default=0, help_text="Experiment arm; 0: production.")

    runs = models.PositiveIntegerField(default=0, help_text="Runs finished in the bucket.")
    outcomes = models.JSONField(default=dict, help_text='Runs by run_outcome: {"draft": 9, ...}')
    no_usable_draft = models.PositiveIntegerField(default=0)
    empty_fields = models.JSONField(
        default=dict, help_text="Per draft field: succeeded runs whose draft left it empty."
    )
    retries = models.PositiveIntegerField(default=0, help_text="Sum of (attempts - 1).")
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    queue_wait_hist = models.JSONField(
        default=dict, help_text="created -> started, monitoring.histograms buckets."
    )
    provider_latency_hist = models.JSONField(default=dict, help_text="provider_latency_ms.")
    upload_to_draft_hist = models.JSONField(default=dict, help_text="created -> finished.")

    ratings_up = models.PositiveIntegerField(default=0, help_text="Thumbs given in the bucket.")
    ratings_down = models.PositiveIntegerField(default=0)
    published = models.PositiveIntegerField(default=0, help_text="Sell sessions published.")
    abandoned = models.PositiveIntegerField(default=0, help_text="Sell sessions abandoned.")
    corrections = models.JSONField(
        default=dict, help_text='Per field, publish-stage corrections: {"title": [n, changed]}.'
    )
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["size", "start"]
        constraints = [
            models.UniqueConstraint(
                fields=["size", "start", "prompt_version_id", "provider", "model", "arm_id"],
                name="one_metric_bucket_per_dimension",
            )
        ]
        permissions = [("view_dashboard", "Can view the monitoring dashboard")]

    def __str__(self):
        return f"{self.size} {self.start:%Y-%m-%d %H:%M} pv={self.prompt_version_id} {self.model}"


class Dashboard(MetricBucket):
    """No table of its own: the admin index entry of the monitoring dashboard (its changelist is
    the dashboard page). Who may see it: staff with monitoring.view_dashboard."""

    class Meta:
        proxy = True
        default_permissions = ()
        verbose_name = "dashboard"
        verbose_name_plural = "dashboard"
