from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # One import line per area of monitoring, each connecting its receivers.
        from . import (
            metrics_worker_server,  # noqa: F401
            receivers_drift,  # noqa: F401
            receivers_health,  # noqa: F401
            receivers_logs,  # noqa: F401
            receivers_metrics,  # noqa: F401
            receivers_rollups,  # noqa: F401
        )
