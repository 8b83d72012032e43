"""A pre-fill through the real stack: PostgreSQL, the Redis broker and a `celery worker` process.

The worker runs in a subprocess (see conftest.py) against a fake OpenAI server, so these tests see
what eager tasks hide: serialization, acks_late, retries through the broker, and what happens to
a run when the process working on it is SIGKILLed.
"""

import base64
import os
import re
import signal
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from ai_prefill.models import PrefillRun
from marketplace.sample_images import render_item
from tests.fake_openai import Behaviour

from .conftest import LEASE_SECONDS

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DRAFT = {
    "title": "Blue city bike",
    "description": "Seven gears and a rear rack. Tyres in good shape.",
    "category": "bikes",
    "condition": "good",
    "brand": "Gazelle",
    "color": "blue",
    "price_eur": 150.0,
}


@pytest.fixture
def seller_client(seller, client_for):
    return client_for(seller)


def _post_photo(client) -> str:
    photo = SimpleUploadedFile("bike.jpg", render_item(shape="bike", color="blue"), "image/jpeg")
    response = client.post("/api/prefill/", {"image": photo})
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "queued"
    return response.json()["id"]


def _poll(client, run_id: str, timeout: float) -> dict:
    """GET the run as the Sell page does, until it is finished or `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/prefill/{run_id}/")
        assert response.status_code == 200, response.content
        body = response.json()
        if body["status"] in PrefillRun.TERMINAL or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def _attempt_log(run_id) -> list[tuple[int, str]]:
    run = PrefillRun.objects.get(pk=run_id)
    return [(a.number, a.outcome) for a in run.attempt_log.order_by("number")]


def _task_lines(*workers) -> list[str]:
    """The workers' own account of the run: received, retry, provider call, result, lost claim."""
    pattern = re.compile(
        r"prefill_run_process\[|WorkerLostError|exited with|HTTP Request|claim lost"
    )
    lines = []
    for number, worker in enumerate(workers, start=1):
        for line in worker.log_text().splitlines():
            if pattern.search(line):
                line = re.sub(r"^\[\S+ (\S+): \w+/(\S+)\]", rf"\1 w{number}/\2", line)
                lines.append(
                    re.sub(r"ai_prefill\.tasks\.prefill_run_process\[[-\w]+\]", "task", line)
                )
    return lines


def test_a_photo_becomes_a_draft_through_the_real_worker(start_worker, seller_client, fake_openai):
    start_worker()
    fake_openai.script(Behaviour.success(draft=DRAFT))

    run_id = _post_photo(seller_client)
    body = _poll(seller_client, run_id, timeout=20)

    assert body["status"] == "succeeded", body
    assert body["draft"] == DRAFT
    run = PrefillRun.objects.select_related("prompt_version").get(pk=run_id)
    assert body["prompt_version"] == run.prompt_version.label
    assert run.attempts == 1 and _attempt_log(run_id) == [(1, "ok")]
    assert run.input_tokens > 0 and run.output_tokens > 0
    assert run.cost_usd > 0 and run.provider_latency_ms is not None
    assert run.raw_response["id"].startswith("resp_fake")
    assert run.finished_at is not None and run.claim_token is None
    # One request reached the provider, and it carried the seller's photo.
    [sent] = fake_openai.requests
    assert sent.path == "/v1/responses"
    image = sent.body["input"][0]["content"][1]
    assert image["type"] == "input_image"
    prefix, data = image["image_url"].split(",", 1)
    assert prefix == "data:image/jpeg;base64"
    assert len(base64.b64decode(data)) == run.image_bytes_sent > 0


def test_a_rate_limit_is_retried_through_the_broker(start_worker, seller_client, fake_openai):
    start_worker()
    fake_openai.script(Behaviour.rate_limited(), Behaviour.success(draft=DRAFT))

    run_id = _post_photo(seller_client)
    body = _poll(seller_client, run_id, timeout=20)

    assert body["status"] == "succeeded", body
    assert body["draft"] == DRAFT
    assert PrefillRun.objects.get(pk=run_id).attempts == 2
    assert _attempt_log(run_id) == [(1, "rate_limited"), (2, "ok")]
    assert len(fake_openai.requests) == 2


def _assert_finished_exactly_once(client, run_id, fake_openai, workers, timeout) -> None:
    body = _poll(client, run_id, timeout=timeout)
    assert body["status"] == "succeeded", body
    finished_at = PrefillRun.objects.get(pk=run_id).finished_at
    time.sleep(1.0)  # room for a duplicate delivery to show itself
    run = PrefillRun.objects.get(pk=run_id)
    assert run.status == "succeeded" and run.finished_at == finished_at is not None
    assert run.attempts == 2
    assert _attempt_log(run_id) == [(1, "worker_lost"), (2, "ok")]
    # The lost call and the retry, nothing more; and the retry waited for the dead claim's lease.
    requests = fake_openai.requests
    assert len(requests) == 2, [(r.behaviour, r.received_wall) for r in requests]
    first, second = requests
    assert second.received_wall - first.received_wall > LEASE_SECONDS - 1
    lines = _task_lines(*workers)
    assert sum("succeeded in" in line for line in lines) == 1, "\n".join(lines)
    assert not any("claim lost" in line for line in lines), "\n".join(lines)


def test_a_killed_pool_child_costs_one_lost_attempt(start_worker, seller_client, fake_openai):
    worker = start_worker()
    fake_openai.script(Behaviour.hang(30))  # then the default: success

    run_id = _post_photo(seller_client)
    assert fake_openai.wait_for_requests(1, timeout=15), "the task never reached the provider"
    # Found and killed well within the 3 s request timeout, so the call is still in flight.
    os.kill(worker.pool_child_running(), signal.SIGKILL)

    # What Celery 5.7 does (retry_on_worker_lost): the main process sees WorkerLostError, sends
    # the task again after default_retry_delay and acks the original. The new delivery finds
    # the run still RUNNING under the dead child's live lease, so it does not call the provider
    # but retries when the lease ends; then it claims the run, writes attempt 1 down as
    # worker_lost, and attempt 2 succeeds.
    _assert_finished_exactly_once(seller_client, run_id, fake_openai, [worker], timeout=30)
    lines = _task_lines(worker)
    assert any("WorkerLostError" in line for line in lines), "\n".join(lines)
    print("\n".join(lines))


def test_a_killed_worker_is_recovered_when_its_lease_ends(start_worker, seller_client, fake_openai):
    # The broker's own redelivery of the dead worker's message waits for the visibility timeout
    # (5 minutes in production, plus the restore sweep): far too late for a seller. Set it so
    # here, to show that it is the reaper that takes the run up again.
    first = start_worker(CELERY_VISIBILITY_TIMEOUT="300")
    fake_openai.script(Behaviour.hang(30))

    run_id = _post_photo(seller_client)
    assert fake_openai.wait_for_requests(1, timeout=15), "the task never reached the provider"
    first.kill()  # main process and pool children: nobody is left to retry or to ack
    killed = time.monotonic()
    assert PrefillRun.objects.get(pk=run_id).status == "running"
    lease_left = (
        PrefillRun.objects.get(pk=run_id).lease_expires_at - timezone.now()
    ).total_seconds()

    # A replacement worker with beat, whose reaper runs every 2 s (production: 30 s): once the
    # lease is over it releases the dead claim, writes attempt 1 down as worker_lost and sends
    # the run again; attempt 2 succeeds.
    second = start_worker(beat=True, CELERY_VISIBILITY_TIMEOUT="300", AI_RUN_REAP_EVERY_SECONDS="2")
    _assert_finished_exactly_once(seller_client, run_id, fake_openai, [first, second], timeout=40)
    recovered_after = time.monotonic() - killed
    print(f"lease left at the kill {lease_left:.1f} s; recovered {recovered_after:.1f} s after it")
    assert recovered_after < lease_left + 2 + 5, "the lease, one sweep and one delivery"
    print("\n".join(_task_lines(first, second)))


def _terminate_other_database_sessions() -> int:
    """What a database restart or failover does to the worker: its connections die."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_dropped_database_connection_keeps_the_paid_answer(
    start_worker, seller_client, fake_openai
):
    start_worker()
    fake_openai.script(Behaviour.success(draft=DRAFT).delayed(2))

    run_id = _post_photo(seller_client)
    assert fake_openai.wait_for_requests(1, timeout=15), "the task never reached the provider"
    # While the model is answering, the worker's database connection is killed.
    assert _terminate_other_database_sessions() >= 1
    answered = fake_openai.requests[0].received_wall + 2

    body = _poll(seller_client, run_id, timeout=15)
    assert body["status"] == "succeeded", body
    assert body["draft"] == DRAFT
    run = PrefillRun.objects.get(pk=run_id)
    print(f"recorded {run.finished_at.timestamp() - answered:.2f} s after the provider answered")
    assert run.finished_at.timestamp() - answered < 5
    # One paid call, recorded once: the reconnect wrote the attempt and the result.
    assert run.attempts == 1 and _attempt_log(run_id) == [(1, "ok")]
    assert len(fake_openai.requests) == 1
    assert run.input_tokens > 0 and run.cost_usd > 0
