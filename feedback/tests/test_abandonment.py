"""The abandonment task chooses runs in SQL and counts only the outcomes it really inserted."""

import contextlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from feedback.models import PrefillOutcome
from feedback.services import outcomes_mark_abandoned

pytestmark = pytest.mark.django_db

OUTCOME_INSERT = f'INSERT INTO "{PrefillOutcome._meta.db_table}"'


@pytest.fixture
def old_runs(seller, settings):
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24
    runs = [start_run(seller) for _ in range(3)]
    PrefillRun.objects.update(
        created_at=timezone.now() - timedelta(hours=30), raw_response={"big": "x" * 10_000}
    )
    return runs


@contextlib.contextmanager
def _published_just_before_the_insert(run):
    """The seller publishes `run` between the task's choice of runs and its insert (the race
    the task must survive): done on the same connection, right before the INSERT runs."""
    done = []

    def wrapper(execute, sql, params, many, context):
        if not done and sql.startswith(OUTCOME_INSERT):
            done.append(True)
            PrefillOutcome.objects.create(run=run, status=PrefillOutcome.Status.PUBLISHED)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield
    assert done, "the insert was never reached"


def test_the_count_is_of_outcomes_really_inserted(old_runs):
    with _published_just_before_the_insert(old_runs[0]):
        marked = outcomes_mark_abandoned()
    abandoned = PrefillOutcome.objects.filter(status=PrefillOutcome.Status.ABANDONED)
    assert marked == abandoned.count() == 2
    assert PrefillOutcome.objects.get(run=old_runs[0]).status == PrefillOutcome.Status.PUBLISHED


def test_no_run_is_loaded_into_python(old_runs):
    with CaptureQueriesContext(connection) as queries:
        assert outcomes_mark_abandoned() == 3
    assert len(queries) == 1, [q["sql"] for q in queries]
    assert '"raw_response"' not in queries[0]["sql"] and '"draft"' not in queries[0]["sql"]
    recorded = PrefillOutcome.objects.values_list("recorded_at", flat=True)
    assert all(abs(timezone.now() - at) < timedelta(minutes=1) for at in recorded)
