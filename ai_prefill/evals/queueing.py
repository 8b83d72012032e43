"""Eval runs started by staff on the evals queue, not in the process that asks for them.

`run_evals` runs in-process: the CI gate waits for its verdict. An engineer who wants a run of a
new prompt or model from the admin, or from a shell on a production host, queues it instead: an
evals worker runs it (ai_prefill.tasks.eval_run_process), on a queue of its own, so a run of
a thousand cases never waits in front of a seller's pre-fill (marketplace/task_queues.py).

The run is a row from the start, status "queued", carrying its configuration (prompt version,
provider, model, tags, limit, repeats): the admin's list shows it queued, then running, then
its verdict. It is sent through the outbox in the transaction that creates it.
"""

from django.db import transaction

from marketplace.outbox import outbox_enqueue
from marketplace.task_queues import QueueKind, queue_name

from ..models import EvalRun, PromptVersion
from .dataset import eval_cases_select
from .runner import EvalRunBroken, eval_config_for

# Named here, not imported, so the service and the task's definition share one name without
# the service importing the tasks module (as ai_prefill.dispatch does for the pre-fill task).
EVAL_RUN_TASK_NAME = "ai_prefill.tasks.eval_run_process"


def eval_run_enqueue(
    *,
    prompt_version: PromptVersion,
    provider: str,
    model: str,
    tags: tuple[str, ...] = (),
    limit: int | None = None,
    repeats: int = 1,
    user=None,
) -> EvalRun:
    """Store a queued eval run and send it to the evals queue once this transaction commits.
    Raises EvalRunBroken at once for what would break it anyway (no matching case, an unknown
    provider), so whoever asked hears it now rather than from a broken run later."""
    if repeats < 1 or (limit is not None and limit < 1):
        raise EvalRunBroken("repeats and limit must be at least 1")
    config = eval_config_for(
        prompt_version=prompt_version, provider=provider, model=model, tags=tuple(tags)
    )
    if not eval_cases_select(tags=list(config.tags), limit=1):
        raise EvalRunBroken("No active eval case matches these tags")
    with transaction.atomic():
        run = EvalRun.objects.create(
            status=EvalRun.Status.QUEUED,
            created_by=user,
            prompt_version=prompt_version,
            provider=config.provider,
            model=config.model,
            params=config.params,
            config_key=config.config_key,
            dataset_version="",  # the cases are chosen when the run starts
            tags=list(config.tags),
            limit=limit,
            repeats=repeats,
        )
        outbox_enqueue(task=EVAL_RUN_TASK_NAME, args=[run.pk])
    return run


def eval_run_enqueued_state(run: EvalRun) -> str:
    """What became of a run eval_run_enqueue just stored, as a verb phrase for whoever asked:
    still queued for an evals worker, taken by one already, or, without a broker (the embedded
    mode runs tasks in-process, after the commit), run to its end in this very process."""
    run.refresh_from_db(fields=["status", "gate_passed"])
    if run.status == EvalRun.Status.QUEUED:
        return f"is queued on {queue_name(QueueKind.EVALS)!r} for an evals worker"
    if run.status == EvalRun.Status.RUNNING:
        return "is running on an evals worker"
    verdict = {True: "gate passed", False: "gate failed", None: "no verdict"}[run.gate_passed]
    return f"ran in this process (no broker): {run.get_status_display().lower()}, {verdict}"
