"""Sampling chooses runs in SQL, reads only small columns, and reports the tasks it really made,
also when two samplers run at once."""

import contextlib
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from annotation.models import AnnotationTask, SamplingPolicy
from annotation.sampling import runs_sample_for_annotation
from feedback.models import PrefillOutcome
from feedback.services import rating_set

TASK_INSERT = f'INSERT INTO "{AnnotationTask._meta.db_table}"'


def _finished_runs(user, count: int) -> list[PrefillRun]:
    runs = []
    for _ in range(count):
        run = start_run(user, shape="ball", color="red")
        prefill_run_execute(run_id=run.pk)
        runs.append(run)
    PrefillRun.objects.update(raw_response={"big": "x" * 10_000})
    return runs


def _policy(**changes) -> SamplingPolicy:
    policy = SamplingPolicy.current()
    policy.random_share, policy.double_annotation_share = 0.0, 0.0
    for name, value in changes.items():
        setattr(policy, name, value)
    policy.save()
    return policy


@pytest.mark.django_db
def test_sampling_reads_ids_not_drafts_or_raw_responses(seller):
    disliked, failed, corrected, *plain = _finished_runs(seller, 6)
    rating_set(run=disliked, user=seller, rating="down")
    PrefillRun.objects.filter(pk=failed.pk).update(status="failed", error_type="refusal")
    PrefillOutcome.objects.create(run=corrected, status="published", fields_changed=4)
    _policy(random_share=0.5)
    with CaptureQueriesContext(connection) as queries:
        tasks = runs_sample_for_annotation()
    assert {t.run_id: t.reason for t in tasks if t.reason != "random"} == {
        disliked.pk: "thumbs_down", failed.pk: "failed", corrected.pk: "heavy_corrections",
    }  # fmt: skip
    selects = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
    assert not [sql for sql in selects if '"raw_response"' in sql or '"error_message"' in sql]
    assert len(queries) <= 10, "a fixed number of queries, not one per run"
    assert {t.pk for t in tasks} == set(AnnotationTask.objects.values_list("pk", flat=True))


@pytest.mark.django_db(transaction=True)
def test_two_samplers_at_once_report_only_the_tasks_they_made(seller):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions (make test and CI use it)")
    _finished_runs(seller, 4)
    _policy(random_share=1.0)
    both_at_the_insert = threading.Barrier(2, timeout=3)
    reported, errors = [], []

    def wait_for_the_other(execute, sql, params, many, context):
        if sql.startswith(TASK_INSERT):
            # Both samplers reach their insert at once, unless one waits for the other's lock.
            with contextlib.suppress(threading.BrokenBarrierError):
                both_at_the_insert.wait()
        return execute(sql, params, many, context)

    def sample():
        try:
            with connection.execute_wrapper(wait_for_the_other):
                reported.append(len(runs_sample_for_annotation()))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sample) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert AnnotationTask.objects.count() == 4
    assert sorted(reported) == [0, 4], "each run once, and each sampler counts what it made"


@pytest.mark.django_db
def test_the_command_says_in_a_sentence_how_many_tasks_it_made_and_why(seller):
    disliked, failed, _plain = _finished_runs(seller, 3)
    rating_set(run=disliked, user=seller, rating="down")
    PrefillRun.objects.filter(pk=failed.pk).update(status="failed", error_type="refusal")
    _policy()
    out = io.StringIO()
    call_command("sample_for_annotation", stdout=out)
    assert out.getvalue() == "2 new annotation tasks: 1 thumbs down, 1 failed run.\n"
    out = io.StringIO()
    call_command("sample_for_annotation", stdout=out)
    assert out.getvalue() == "No new annotation tasks.\n"
