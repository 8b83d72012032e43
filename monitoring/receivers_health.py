"""Health's hooks into other parts, connected from MonitoringConfig.ready().

The worker's heartbeat step joins the Celery app's consumer blueprint here: ready() runs in the
worker during Django's setup, before the worker builds its consumer, so every `celery worker`
of this project records its heartbeat (and the web process, which builds no consumer, never does).
"""

from marketplace.celery import app as celery_app

from .heartbeat_sources import WorkerHeartbeatStep

celery_app.steps["consumer"].add(WorkerHeartbeatStep)
