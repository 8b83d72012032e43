"""Celery queues by kind: one broker queue per kind of work, so one kind never waits for another.

A seller waits on a pre-fill; nobody waits on an eval run of 500 cases. On one queue, such a run
would sit in front of every seller's photo for as long as it takes. Each kind has its own queue,
and the deployment runs workers per queue (`celery worker -Q <queues_for(kinds)>`), sized for
what it does: many slots for pre-fills, a few for evals, one for maintenance, one for email.

Every task of ours declares its kind where it is defined, as a task option:

    @shared_task(queue_kind=QueueKind.MAINTENANCE)

`task_route` (the CELERY_TASK_ROUTES router) sends each task to `<CELERY_QUEUE_PREFIX><kind>`,
whoever publishes it: `.delay()`, the outbox's `send_task` by name, beat, a retry. The prefix is
read from Django's settings at route time, so a test session isolates itself with its own prefix.
A task of ours without a kind raises here rather than land on a queue no worker consumes; a test
walks every registered task and asserts each has one.
"""

from enum import StrEnum

from django.conf import settings
from kombu import Exchange, Queue

from .celery import app

# The option a task declares its kind with; Celery keeps unknown task options as class attributes.
KIND_OPTION = "queue_kind"
# Celery's own tasks (chord unlock, result cleanup) declare no kind: housekeeping, like beat's.
CELERY_BUILTIN_PREFIX = "celery."


class QueueKind(StrEnum):
    PREFILL = "prefill"  # the seller's pre-fill call: latency a person waits on
    EVALS = "evals"  # eval runs started by staff: long, never in a seller's way
    MAINTENANCE = "maintenance"  # beat's periodic work: relay, reaper, sampling, rollups, alerts
    EMAIL = "email"  # notifications: a slow mail server delays nothing else


class QueueKindMissing(LookupError):
    """A task of ours declares no queue kind: it would land on a queue no worker consumes."""


def queue_name(kind: QueueKind | str, *, prefix: str | None = None) -> str:
    """The broker queue of a kind: `<CELERY_QUEUE_PREFIX><kind>` (`prefix`: for the settings
    module itself, which cannot read settings yet)."""
    prefix = settings.CELERY_QUEUE_PREFIX if prefix is None else prefix
    return f"{prefix}{QueueKind(kind)}"


def queues_for(kinds) -> list[str]:
    """The queue names of these kinds, in order: what `celery worker -Q` takes (comma-joined)."""
    return [queue_name(kind) for kind in kinds]


def queue_declarations(*, prefix: str) -> list[Queue]:
    """CELERY_TASK_QUEUES: every kind's queue, which `celery worker` consumes without -Q.

    Each on an exchange and routing key of its own name, as Celery declares a queue it creates
    on demand (a test's prefixed queue): two routes never share a binding, so a message lands in
    exactly one queue."""
    names = [queue_name(kind, prefix=prefix) for kind in QueueKind]
    return [Queue(name, Exchange(name), routing_key=name) for name in names]


def queue_kinds_named(names) -> list[QueueKind]:
    """The kinds whose queues are among these queue names (what a worker consumes)."""
    names = set(names)
    return [kind for kind in QueueKind if queue_name(kind) in names]


def queue_kind_of(task) -> QueueKind | None:
    """The kind a task declared, or None."""
    kind = getattr(task, KIND_OPTION, None)
    return QueueKind(kind) if kind is not None else None


def task_route(name, args, kwargs, options, task=None, **kw) -> dict | None:
    """CELERY_TASK_ROUTES router: the queue of the task's kind (Celery's own tasks: the
    maintenance queue). `task` is None when the publisher has not imported the task's module
    (the outbox and beat send by name): then it is looked up in the app's registry."""
    if name.startswith(CELERY_BUILTIN_PREFIX):
        return {"queue": queue_name(QueueKind.MAINTENANCE)}
    kind = queue_kind_of(task if task is not None else _registered_task(name))
    if kind is None:
        raise QueueKindMissing(
            f"task {name!r} declares no queue kind; add {KIND_OPTION}=QueueKind.<...> to it"
        )
    return {"queue": queue_name(kind)}


def _registered_task(name: str):
    if name not in app.tasks:  # a web process has not imported every app's tasks.py yet
        app.loader.import_default_modules()
    return app.tasks.get(name)
