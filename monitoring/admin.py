"""Monitoring in the admin. Each area registers its pages from its own module, imported here."""

from . import alert_admin  # noqa: F401
from . import rollup_admin  # noqa: F401
