"""Logs' hooks: the request id travels from the web request into the Celery task, and the run.

- Publishing a task (before_task_publish): the current request id goes into the message's
  headers. The outbox publishes a row inside the context of the request that queued it
  (marketplace/outbox.py), so this holds when the relay sends it later from another process.
- Running a task (task_prerun / task_postrun): the worker takes the id back from the message and
  binds it, with the task id and the pre-fill's run id, for the task's log lines; then unbinds.
- A run created in a request (prefill_run_created): its id joins that request's log lines.
- Celery's logging setup (setup_logging): Django's LOGGING already configured the worker and
  beat (Django is set up before Celery sets up logging); connecting here stops Celery from
  replacing those handlers with its own plain-text ones.
"""

import contextlib

from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun
from django.dispatch import receiver

from ai_prefill.dispatch import PREFILL_TASK_NAME
from ai_prefill.signals import prefill_run_created
from marketplace.log_context import log_context_pop, log_context_push, request_id_get

HEADER = "trova_request_id"

_bound: dict[str, object] = {}  # task id -> the token its prerun pushed


@before_task_publish.connect
def _put_request_id_on_message(sender=None, headers=None, **kwargs) -> None:
    request_id = request_id_get()
    if request_id and headers is not None:
        headers.setdefault(HEADER, request_id)


@task_prerun.connect
def _bind_task_context(sender=None, task_id=None, task=None, args=None, **kwargs) -> None:
    request = task.request
    # In-process (eager) tasks run inside the request that queued them: keep its id. A worker
    # sets every field, so nothing of the previous task of this process is left over.
    request_id = request.get(HEADER) or (request.headers or {}).get(HEADER)
    if not request_id and request.is_eager:
        request_id = request_id_get()
    run_id = str(args[0]) if task.name == PREFILL_TASK_NAME and args else ""
    _bound[task_id] = log_context_push(request_id=request_id or "", task_id=task_id, run_id=run_id)


@task_postrun.connect
def _unbind_task_context(sender=None, task_id=None, **kwargs) -> None:
    token = _bound.pop(task_id, None)
    if token is not None:
        # Set in another context (a task that ended in another thread): nothing to undo here.
        with contextlib.suppress(ValueError, RuntimeError):
            log_context_pop(token)


@receiver(prefill_run_created)
def _run_id_for_the_rest_of_the_request(sender=None, run=None, **kwargs) -> None:
    if request_id_get():  # inside a request, whose end unbinds it (RequestIdMiddleware)
        log_context_push(run_id=str(run.pk))


@setup_logging.connect
def _keep_djangos_logging_config(**kwargs) -> None:
    """Django's LOGGING (settings) already applies: Celery leaves the handlers alone."""
