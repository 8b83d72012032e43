"""Drift's tables: the input statistics of each pre-fill photo, and one report a day."""

from django.db import models

from ai_prefill.models import PrefillRun


class IntakeStats(models.Model):
    """Simple statistics of the photo of one pre-fill run, measured at upload (one row per run).

    What the model is shown changes when sellers' photos change (a new phone, the Sell page's
    resizing, a season of dim indoor photos) long before any answer looks wrong: these are the
    inputs the drift report compares day by day."""

    run = models.OneToOneField(
        PrefillRun, on_delete=models.CASCADE, primary_key=True, related_name="intake_stats"
    )
    created_at = models.DateTimeField(
        db_index=True,
        help_text="The run's creation time, copied so a day's statistics are read without a join.",
    )
    megapixels = models.FloatField(help_text="Pixel count of the upload as sent, in millions.")
    aspect = models.FloatField(help_text="Width / height of the upright photo (> 1: landscape).")
    brightness = models.FloatField(help_text="Mean luma, 0 (black) to 255 (white).")
    sharpness = models.FloatField(
        help_text="Variance of the Laplacian of a 256 px grey copy: low means blurred."
    )

    class Meta:
        verbose_name = "intake statistics"
        verbose_name_plural = "intake statistics"

    def __str__(self):
        return f"intake statistics of run {self.run_id}"


class DriftReport(models.Model):
    """One day's drift: the distributions of that day's suggested categories and conditions and
    of its photos' statistics, each against the 28 days before (docs/monitoring.md, ## Drift).

    Written only by `drift_report_build`; building a day again replaces its row."""

    day = models.DateField(unique=True, help_text="A calendar day in the site's time zone.")
    computed_at = models.DateTimeField()
    reference_days = models.PositiveSmallIntegerField(default=28)
    run_count = models.PositiveIntegerField(help_text="Succeeded runs created that day.")
    drifted = models.BooleanField(
        default=False, db_index=True, help_text="At least one dimension is at the drifted level."
    )
    max_psi = models.FloatField(
        null=True,
        blank=True,
        help_text="The largest PSI of the day among dimensions with enough runs.",
    )
    dimensions = models.JSONField(
        default=dict,
        help_text="Per dimension: psi, chi2_p, level, drifted, bins and both sides' counts.",
    )

    class Meta:
        ordering = ["-day"]

    def __str__(self):
        return f"drift report {self.day}"
