"""The processes that record heartbeats: the Celery worker and the beat scheduler, each itself.

Each records from its own loop, not through the other: a worker heartbeat sent as a task by beat
would stop with beat and read as "worker down" too. The worker's step runs on the consumer's
timer, in the main process's event loop, so it stops when that loop stops (a hung or dead
worker); the scheduler records on its tick, which is beat's loop.

A record that fails (Redis down) is logged and never stops the worker or beat: their health
then reads as stale, which is the truth seen from outside.
"""

import logging
import time

from celery import bootsteps
from celery.beat import PersistentScheduler

from marketplace.task_queues import queue_kinds_named

from .heartbeats import BEAT_EVERY, WORKER_EVERY, heartbeat_record, worker_kind

logger = logging.getLogger(__name__)


def _record_safely(kind: str, also: tuple[str, ...] = ()) -> None:
    try:
        heartbeat_record(kind=kind, also=also)
    except Exception as exc:  # noqa: BLE001 - a monitoring write must not stop the process
        logger.warning("heartbeat: could not record the %s heartbeat: %s", kind, exc)


def consumed_queue_kinds(app) -> tuple[str, ...]:
    """The heartbeat kinds of the queues this worker consumes (-Q, else every declared queue)."""
    names = app.amqp.queues.consume_from.keys()
    return tuple(worker_kind(queue_kind) for queue_kind in queue_kinds_named(names))


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    """A consumer bootstep: a heartbeat at start, then every WORKER_EVERY seconds.

    Added to the Celery app's consumer blueprint by monitoring.receivers_health."""

    # The consumer's timer exists once its Connection step has started.
    requires = ("celery.worker.consumer.connection:Connection",)

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.timer_entry = None

    def start(self, parent):
        queue_kinds = consumed_queue_kinds(parent.app)
        _record_safely("worker", queue_kinds)
        self.timer_entry = parent.timer.call_repeatedly(
            WORKER_EVERY, _record_safely, ("worker", queue_kinds)
        )

    def stop(self, parent):
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop


class HeartbeatScheduler(PersistentScheduler):
    """celery beat's default scheduler (schedule in a local file), recording beat's heartbeat.

    Configured as CELERY_BEAT_SCHEDULER, so `celery beat` and `celery worker --beat` use it."""

    def __init__(self, *args, **kwargs):
        self._last_heartbeat = float("-inf")
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        now = time.monotonic()
        if now - self._last_heartbeat >= BEAT_EVERY:
            self._last_heartbeat = now
            _record_safely("beat")
        # Wake up at least that often, whatever the schedule's next entry.
        return min(super().tick(*args, **kwargs), BEAT_EVERY)
