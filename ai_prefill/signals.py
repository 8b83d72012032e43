"""What the pre-fill tells observers (monitoring), without knowing them: ai_prefill sits below
monitoring in the dependency order, so it sends Django signals and monitoring connects to them.

Sent with `send_robust`: an observer that fails is logged and never fails a seller's pre-fill.
A receiver that writes to the database does it inside its own `transaction.atomic()`, so that
its failure rolls back only its own savepoint, never the upload's transaction around it.

- `prefill_run_created(run, photo)`: a run was stored at upload, inside the upload's transaction
  (`photo` is the marketplace.photos.ProcessedPhoto the intake decoded).
- `prefill_attempt_logged(run, attempt)`: one provider call ended, successfully or not; `attempt`
  is the PrefillAttempt row just written (its `outcome` is "ok" or an error type).
- `prefill_runs_finished(run_ids)`: runs reached a final status (succeeded or failed), sent after
  the change is committed. Runs failed in bulk (stale, queue unavailable) are included.
"""

import logging

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

prefill_run_created = Signal()
prefill_attempt_logged = Signal()
prefill_runs_finished = Signal()


def send(signal: Signal, **kwargs) -> None:
    """Tell every observer; log, never raise, what one of them raised."""
    for receiver, result in signal.send_robust(sender="ai_prefill", **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "pre-fill observer %r failed: %s",
                getattr(receiver, "__qualname__", receiver),
                result,
                exc_info=(type(result), result, result.__traceback__),
            )


def send_runs_finished_on_commit(run_ids) -> None:
    """`prefill_runs_finished` once the current transaction commits (at once outside one)."""
    run_ids = list(run_ids)
    if run_ids:
        transaction.on_commit(lambda: send(prefill_runs_finished, run_ids=run_ids))
