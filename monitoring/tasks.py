"""Celery tasks of monitoring: thin; each calls a service of its area."""
