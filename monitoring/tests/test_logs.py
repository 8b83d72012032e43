"""JSON log lines with a request id that follows a pre-fill from the web request to the run and
the worker's task, through the outbox (published at once, or later by the relay)."""

import io
import json
import logging
import time
from datetime import timedelta

import pytest
import redis
from celery import shared_task
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from ai_prefill.dispatch import PREFILL_TASK_NAME
from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from marketplace.celery import app as celery_app
from marketplace.log_context import log_context, log_context_bound
from marketplace.models import OutboxMessage
from marketplace.outbox import outbox_relay
from marketplace.sample_images import render_item
from marketplace.task_queues import QueueKind
from monitoring.logs import JsonFormatter, LogContextFilter, TextFormatter
from monitoring.receivers_logs import HEADER
from monitoring.request_id import request_id_for
from tests.fake_openai import Behaviour
from tests.outage import RedisOutage

SANE_ID = "req-0123456789abcdef"


@pytest.fixture
def log_lines():
    """The lines the site's console handler would write (its filter and JSON formatter), as
    parsed JSON objects; call it to read what was logged so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(LogContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous_level)


@shared_task(name="monitoring.tests.say_where_i_am", queue_kind=QueueKind.MAINTENANCE)
def say_where_i_am() -> None:
    logging.getLogger("monitoring.tests").info("inside the task")


def _photo():
    return SimpleUploadedFile("bike.jpg", render_item(shape="bike", color="blue"), "image/jpeg")


# --- The request id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "incoming",
    [
        SANE_ID,
        "0f8fad5b-d9cb-469f-a165-70867728950e",  # a UUID, as most proxies send
        "Root=1-5759e988-bd862e3fe1be46a994272793"[5:],
    ],
)
def test_a_sane_incoming_id_is_kept(incoming):
    assert request_id_for(incoming) == incoming


@pytest.mark.parametrize(
    "hostile",
    [
        'x" , "level": "CRITICAL',  # would forge a field of a naive log line
        "abcdefgh\r\nSet-Cookie: session=evil",  # header or log line injection
        "a" * 129,  # unbounded
        "short",  # too short to be unique
        "ünïcödé-ünïcödé",
        "",
        None,
    ],
)
def test_a_hostile_or_missing_id_is_replaced_by_a_fresh_one(hostile):
    replaced = request_id_for(hostile)
    assert replaced != hostile and len(replaced) == 32 and replaced.isalnum()
    assert request_id_for(hostile) != replaced  # fresh each time


@pytest.mark.django_db
def test_the_response_carries_the_id_and_the_request_line_logs_it(anon_client, log_lines):
    response = anon_client.get("/", HTTP_X_REQUEST_ID=SANE_ID)
    assert response["X-Request-ID"] == SANE_ID
    [line] = [line for line in log_lines() if line["logger"] == "monitoring.requests"]
    assert line["request_id"] == SANE_ID
    assert (line["message"], line["status"], line["method"]) == ("GET / 200", 200, "GET")
    assert line["duration_ms"] >= 0 and line["level"] == "INFO"
    assert line["time"].endswith("+00:00")


@pytest.mark.django_db
def test_a_hostile_header_gets_a_new_id_in_the_response_and_the_log(anon_client, log_lines):
    response = anon_client.get("/", HTTP_X_REQUEST_ID="abcdefgh\nforged line")
    new_id = response["X-Request-ID"]
    assert new_id != "abcdefgh\nforged line" and len(new_id) == 32
    assert [line["request_id"] for line in log_lines()] == [new_id]
    assert log_context() == {}  # nothing left behind for the next request of this thread


def test_a_line_outside_a_request_has_a_null_id_and_its_exception_text():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
    try:
        raise RuntimeError("the cause")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    LogContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] is None and "run_id" not in line and "task_id" not in line
    assert line["message"] == "failed here" and line["level"] == "ERROR"
    assert "RuntimeError: the cause" in line["exception"]
    assert "\n" not in JsonFormatter().format(record)  # one line, whatever the traceback


def test_the_text_format_shows_the_id_or_a_dash():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    with log_context_bound(request_id=SANE_ID):
        LogContextFilter().filter(record)
    assert f"INFO x [{SANE_ID}] hello" in TextFormatter().format(record)
    other = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    LogContextFilter().filter(other)
    assert "INFO x [-] hello" in TextFormatter().format(other)


# --- Into the task and the run (in-process tasks: the embedded mode and unit tests) ---------------


def test_a_task_takes_the_id_from_its_message_headers(log_lines):
    result = say_where_i_am.apply(headers={HEADER: SANE_ID})
    [line] = [line for line in log_lines() if line["message"] == "inside the task"]
    assert line["request_id"] == SANE_ID and line["task_id"] == result.id
    assert log_context() == {}  # unbound after the task


def test_an_in_process_task_keeps_the_id_of_the_request_it_runs_in(log_lines):
    with log_context_bound(request_id=SANE_ID):
        say_where_i_am.apply()
    [line] = [line for line in log_lines() if line["message"] == "inside the task"]
    assert line["request_id"] == SANE_ID


@pytest.mark.django_db
def test_an_upload_stores_its_id_on_the_run_and_the_outbox_row(seller, client_for, log_lines):
    response = client_for(seller).post(
        "/api/prefill/", {"image": _photo()}, HTTP_X_REQUEST_ID=SANE_ID
    )
    assert response.status_code == 202, response.content
    run = PrefillRun.objects.get(pk=response.json()["id"])
    assert run.request_id == SANE_ID
    assert OutboxMessage.objects.get(args=[str(run.pk)]).request_id == SANE_ID
    [line] = [line for line in log_lines() if line["logger"] == "monitoring.requests"]
    assert (line["request_id"], line["run_id"]) == (SANE_ID, str(run.pk))


@pytest.mark.django_db
def test_staff_find_a_run_by_its_request_id_in_the_admin(seller, staff_with, client_for):
    with log_context_bound(request_id=SANE_ID):
        wanted = start_run(seller)
    other = start_run(seller)
    browser = client_for(staff_with("ai_prefill.view_prefillrun"))
    page = browser.get("/admin/ai_prefill/prefillrun/", {"q": SANE_ID})
    assert page.status_code == 200
    shown = {str(run.pk) for run in page.context["cl"].result_list}
    assert shown == {str(wanted.pk)} and str(other.pk) not in shown
    detail = browser.get(f"/admin/ai_prefill/prefillrun/{wanted.pk}/change/")
    assert SANE_ID in detail.content.decode()


# --- Through the real broker and a real worker ----------------------------------------------------


def _raw_messages(queue: str) -> list[dict]:
    client = redis.Redis.from_url(celery_app.conf.broker_url)
    return [json.loads(raw) for raw in client.lrange(queue, 0, -1)]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_id_travels_in_the_message_even_when_the_relay_sends_it_later(
    celery_queue, settings, seller, client_for
):
    outage = RedisOutage(settings)
    outage.start()  # the broker refuses: the row waits in the outbox
    try:
        response = client_for(seller).post(
            "/api/prefill/", {"image": _photo()}, HTTP_X_REQUEST_ID=SANE_ID
        )
    finally:
        outage.end()
    assert response.status_code == 503
    assert _raw_messages(celery_queue) == []
    # Later, in a process that never saw the request (no log context): the beat's relay.
    assert log_context() == {}
    OutboxMessage.objects.update(created_at=timezone.now() - timedelta(minutes=1))
    assert outbox_relay() == 1
    [message] = _raw_messages(celery_queue)
    assert message["headers"]["task"] == PREFILL_TASK_NAME
    assert message["headers"][HEADER] == SANE_ID


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_one_prefill_can_be_followed_from_the_request_to_the_worker(
    start_worker, seller, client_for, fake_openai, log_lines
):
    worker = start_worker()  # production settings: DEBUG off, so JSON lines
    fake_openai.script(Behaviour.success())
    client = client_for(seller)
    response = client.post("/api/prefill/", {"image": _photo()}, HTTP_X_REQUEST_ID=SANE_ID)
    assert response.status_code == 202, response.content
    run_id = response.json()["id"]
    deadline = time.monotonic() + 20
    while PrefillRun.objects.get(pk=run_id).status not in PrefillRun.TERMINAL:
        assert time.monotonic() < deadline, worker.tail()
        time.sleep(0.1)

    assert PrefillRun.objects.get(pk=run_id).request_id == SANE_ID
    web = [line for line in log_lines() if line.get("request_id") == SANE_ID]
    assert any(line["logger"] == "monitoring.requests" for line in web)
    # The child logs "Task ... succeeded" after the run's row is written: wait for that line.
    deadline = time.monotonic() + 10
    while True:
        worker_lines = [json.loads(line) for line in _json_lines(worker.log_text())]
        task_lines = [line for line in worker_lines if line.get("request_id") == SANE_ID]
        if any("succeeded" in line["message"] for line in task_lines):
            break
        assert time.monotonic() < deadline, worker.tail()
        time.sleep(0.1)
    assert {line["run_id"] for line in task_lines} == {run_id}
    assert all(line.get("task_id") for line in task_lines)
    assert any("succeeded" in line["message"] for line in task_lines)
    # A later task of the same worker process carries none of it.
    others = [line for line in worker_lines if line not in task_lines and line.get("task_id")]
    assert all(line.get("request_id") is None for line in others)


def _json_lines(text: str) -> list[str]:
    """The worker's log lines that are JSON objects (Celery prints its banner as plain text)."""
    return [line for line in text.splitlines() if line.startswith("{")]
