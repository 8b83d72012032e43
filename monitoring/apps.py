from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self):
        # One import line per area of monitoring, each connecting its receivers; kept apart from
        # isort's merging so that areas written side by side merge without conflicts.
        # isort: off
        from . import receivers_drift  # noqa: F401
        from . import receivers_health  # noqa: F401
        from . import receivers_logs  # noqa: F401
        from . import receivers_rollups  # noqa: F401
        # isort: on
