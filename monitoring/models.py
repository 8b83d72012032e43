"""Monitoring's tables. Each area keeps its models in its own module; Django finds them here."""

from .rollup_models import Dashboard, MetricBucket  # noqa: F401
