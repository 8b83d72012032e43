"""Monitoring in the admin. Each area registers its pages from its own module, imported here."""

from . import (
    alert_admin,  # noqa: F401
    drift_admin,  # noqa: F401
    rollup_admin,  # noqa: F401
)
