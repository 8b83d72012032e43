"""Monitoring in the admin. Each area registers its pages from its own module, imported here."""

from . import drift_admin  # noqa: F401
