"""Monitoring's tables. Each area keeps its models in its own module; Django finds them here."""

from .alert_models import *  # noqa: E402, F401, F403
from .drift_models import DriftReport, IntakeStats  # noqa: F401
from .rollup_models import Dashboard, MetricBucket  # noqa: F401
