"""Starting an eval run on the evals queue: the admin page (ai_prefill.start_evalrun), the
`run_evals --enqueue` command, and the task's claim. The queue itself is tested with a real
broker and workers in test_eval_queue.py; here tasks run in-process."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from ai_prefill.evals.queueing import EVAL_RUN_TASK_NAME
from ai_prefill.evals.runner import eval_run_queued_execute
from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import EvalRun
from ai_prefill.prompt_registry import prompt_version_production
from ai_prefill.tasks import eval_run_process
from marketplace.models import OutboxMessage

pytestmark = pytest.mark.django_db

START_URL = reverse("admin:ai_prefill_evalrun_start")
LIST_URL = reverse("admin:ai_prefill_evalrun_changelist")


@pytest.fixture
def eval_set():
    starter_cases_load()


@pytest.fixture
def run_starter(staff_with):
    """Staff who see eval runs and may start one, and nothing else."""
    return staff_with("ai_prefill.view_evalrun", "ai_prefill.start_evalrun", username="stan")


def _form(**changes) -> dict:
    form = {
        "prompt_version": prompt_version_production().pk,
        "provider": "baseline",
        "model": "baseline",
        "tags": "",
        "limit": "3",
        "repeats": "1",
    }
    return {**form, **changes}


def test_the_start_page_is_403_without_the_permission(staff_with, client_for, eval_set):
    viewer = client_for(staff_with("ai_prefill.view_evalrun", username="vic"))
    assert viewer.get(START_URL).status_code == 403
    assert viewer.post(START_URL, _form()).status_code == 403
    assert not EvalRun.objects.exists() and not OutboxMessage.objects.exists()
    listing = viewer.get(LIST_URL)
    assert listing.status_code == 200 and START_URL not in listing.content.decode()


def test_staff_with_the_permission_queue_a_run_that_then_runs(
    run_starter, client_for, eval_set, django_capture_on_commit_callbacks
):
    client = client_for(run_starter)
    assert START_URL in client.get(LIST_URL).content.decode()
    assert client.get(START_URL).status_code == 200

    with django_capture_on_commit_callbacks(execute=False) as on_commit:
        response = client.post(START_URL, _form(tags=" ,", limit="3"))
    assert response.status_code == 302 and response.url == LIST_URL
    run = EvalRun.objects.get()
    assert (run.status, run.created_by, run.provider, run.limit) == (
        "queued",
        run_starter,
        "baseline",
        3,
    )
    [message] = OutboxMessage.objects.all()
    assert (message.task, message.args) == (EVAL_RUN_TASK_NAME, [run.pk])
    # The list shows it waiting (the message of the redirect says so too).
    listing = client.get(LIST_URL).content.decode()
    assert (
        f"Eval run {run.pk} is queued" in listing and '<td class="field-status">Queued' in listing
    )

    # No broker here (the embedded mode): the commit hook runs the task in this process.
    for callback in on_commit:
        callback()
    run.refresh_from_db()
    assert run.status == EvalRun.Status.COMPLETED and run.results.count() == 3


def test_a_run_that_would_break_is_refused_on_the_page(run_starter, client_for, eval_set):
    response = client_for(run_starter).post(START_URL, _form(tags="no-case-has-this-tag"))
    assert response.status_code == 200
    assert "No active eval case matches these tags" in response.content.decode()
    assert not EvalRun.objects.exists() and not OutboxMessage.objects.exists()


def test_run_evals_enqueue_queues_the_run_and_says_so(eval_set, capsys):
    call_command("run_evals", "--enqueue", "--provider", "baseline", "--limit", "2")
    run = EvalRun.objects.get()
    out = capsys.readouterr().out
    assert f"queued eval run {run.pk}: {run.prompt_version.label}, baseline/" in out
    assert "on queue 'evals'" in out
    assert (run.status, run.limit) == (EvalRun.Status.QUEUED, 2)
    assert OutboxMessage.objects.get().args == [run.pk]


def test_a_run_is_claimed_once(eval_set):
    call_command("run_evals", "--enqueue", "--provider", "baseline", "--limit", "2")
    run = EvalRun.objects.get()
    assert eval_run_process.apply(args=[run.pk]).get() == "completed"
    assert eval_run_process.apply(args=[run.pk]).get() is None  # a second delivery: left alone
    assert eval_run_queued_execute(run_id=run.pk + 1000) is None  # gone: nothing to do
    assert EvalRun.objects.get().results.count() == 2


# --- the embedded mode, as `make run` has it: no broker, the task runs after the commit ---------


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_the_page_says_the_run_ran_here(run_starter, client_for, eval_set):
    response = client_for(run_starter).post(START_URL, _form(limit="2"), follow=True)

    run = EvalRun.objects.get()
    assert run.status == EvalRun.Status.COMPLETED
    verdict = "gate passed" if run.gate_passed else "gate failed"
    [message] = [str(m) for m in response.context["messages"]]
    assert (
        message
        == f"Eval run {run.pk} ran in this process (no broker): completed, {verdict}: {run}."
    )


@pytest.mark.django_db(transaction=True)
def test_without_a_broker_run_evals_enqueue_says_the_run_ran_here(eval_set, capsys):
    call_command("run_evals", "--enqueue", "--provider", "baseline", "--limit", "2")

    run = EvalRun.objects.get()
    assert run.status == EvalRun.Status.COMPLETED
    verdict = "gate passed" if run.gate_passed else "gate failed"
    assert (
        capsys.readouterr()
        .out.strip()
        .endswith(f"repeats 1; it ran in this process (no broker): completed, {verdict}")
    )
