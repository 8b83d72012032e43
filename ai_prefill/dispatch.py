"""Sending a run to the workers: through the transactional outbox, never straight to the broker.

The task is named here, not imported, so the web side (services), the worker side (the reaper in
execution.py) and the task's own definition (tasks.py) share one name without an import cycle.
"""

from marketplace.outbox import outbox_enqueue

PREFILL_TASK_NAME = "ai_prefill.tasks.prefill_run_process"


def prefill_run_dispatch(*, run_id, on_published=None) -> None:
    """Queue the run's task once the current transaction commits (see marketplace.outbox)."""
    outbox_enqueue(task=PREFILL_TASK_NAME, args=[str(run_id)], on_published=on_published)
