"""Eval runs on a queue of their own (ai_prefill/evals/queueing.py, marketplace/task_queues.py):
a run queued by staff waits in the evals queue, never in front of a seller's pre-fill; an evals
worker runs it to the end. With a real Redis and real workers."""

import json
import time

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from ai_prefill.dispatch import PREFILL_TASK_NAME
from ai_prefill.evals.queueing import EVAL_RUN_TASK_NAME, eval_run_enqueue
from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import EvalRun, PrefillRun
from ai_prefill.prompt_registry import prompt_version_production
from marketplace.sample_images import render_item
from marketplace.task_queues import QueueKind, queue_name
from tests.fake_openai import Behaviour

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CASES = 4
DRAFT = {
    "title": "Blue city bike",
    "description": "Seven gears and a rear rack.",
    "category": "bikes",
    "condition": "good",
    "brand": "Gazelle",
    "color": "blue",
    "price_eur": 150.0,
}


@pytest.fixture
def eval_set():
    starter_cases_load()


def _queued_eval_run() -> EvalRun:
    """What the admin's "Start an eval run" does: the offline baseline over a few cases."""
    return eval_run_enqueue(
        prompt_version=prompt_version_production(),
        provider="baseline",
        model="baseline",
        limit=CASES,
    )


def _task_names(kind: QueueKind) -> list[str]:
    """The tasks waiting in a kind's queue, read from the Redis list itself."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange(queue_name(kind), 0, -1)]


def _post_photo(client) -> str:
    photo = SimpleUploadedFile("bike.jpg", render_item(shape="bike", color="blue"), "image/jpeg")
    response = client.post("/api/prefill/", {"image": photo})
    assert response.status_code == 202, response.content
    return response.json()["id"]


def _wait_for(predicate, timeout: float, what: str, worker=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}:\n{worker.tail() if worker else ''}"
        time.sleep(0.1)


def test_an_eval_run_waits_in_the_evals_queue_and_a_prefill_in_the_prefill_queue(
    celery_queues, eval_set, seller, client_for
):
    run = _queued_eval_run()  # committed: the outbox published it at once
    assert EvalRun.objects.get(pk=run.pk).status == EvalRun.Status.QUEUED
    assert _task_names(QueueKind.EVALS) == [EVAL_RUN_TASK_NAME]
    assert _task_names(QueueKind.PREFILL) == []

    _post_photo(client_for(seller))
    assert _task_names(QueueKind.PREFILL) == [PREFILL_TASK_NAME]
    assert _task_names(QueueKind.EVALS) == [EVAL_RUN_TASK_NAME]  # nothing joined it
    assert _task_names(QueueKind.MAINTENANCE) == _task_names(QueueKind.EMAIL) == []


def test_a_seller_is_served_while_an_eval_run_waits_and_an_evals_worker_runs_it(
    start_worker, eval_set, seller, client_for, fake_openai
):
    prefill_worker = start_worker(kinds=[QueueKind.PREFILL])
    run = _queued_eval_run()
    fake_openai.script(Behaviour.success(draft=DRAFT))

    run_id = _post_photo(client_for(seller))
    _wait_for(
        lambda: PrefillRun.objects.get(pk=run_id).status in PrefillRun.TERMINAL,
        timeout=20,
        what="the pre-fill did not finish",
        worker=prefill_worker,
    )
    assert PrefillRun.objects.get(pk=run_id).draft == DRAFT
    # The eval run was never taken: still queued, its message still in the evals queue.
    assert EvalRun.objects.get(pk=run.pk).status == EvalRun.Status.QUEUED
    assert _task_names(QueueKind.EVALS) == [EVAL_RUN_TASK_NAME]

    evals_worker = start_worker(kinds=[QueueKind.EVALS])
    _wait_for(
        lambda: (
            EvalRun.objects.get(pk=run.pk).status
            in (EvalRun.Status.COMPLETED, EvalRun.Status.BROKEN)
        ),
        timeout=60,
        what="the eval run did not finish",
        worker=evals_worker,
    )
    run.refresh_from_db()
    assert (run.status, run.error_message) == (EvalRun.Status.COMPLETED, "")
    assert run.case_count == CASES and run.results.count() == CASES
    assert run.gate_passed is not None and run.dataset_version
    assert _task_names(QueueKind.EVALS) == []
    assert "eval_run_process[" not in prefill_worker.log_text()  # never received there
