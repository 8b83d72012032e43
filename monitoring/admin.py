"""Monitoring in the admin. Each area registers its pages from its own module, imported here."""

# One import line per area, kept apart from isort's merging so that areas merge without conflicts.
# isort: off
from . import alert_admin  # noqa: F401
from . import drift_admin  # noqa: F401
from . import rollup_admin  # noqa: F401
# isort: on
