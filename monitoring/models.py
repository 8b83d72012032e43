"""Monitoring's tables. Each area keeps its models in its own module; Django finds them here."""

from .rollup_models import MetricBucket  # noqa: F401
