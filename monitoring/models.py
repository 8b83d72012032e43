"""Monitoring's tables. Each area keeps its models in its own module; Django finds them here."""

from .drift_models import DriftReport, IntakeStats  # noqa: F401
