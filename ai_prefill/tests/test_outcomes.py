"""One definition of a run's outcome and of "no usable draft", in Python and in SQL, that agree."""

import pytest

from ai_prefill import signals
from ai_prefill.models import PrefillRun
from ai_prefill.outcomes import (
    empty_fields,
    has_no_usable_draft,
    no_usable_draft_q,
    run_outcome,
)
from ai_prefill.schema import DRAFT_FIELDS
from ai_prefill.tests.factories import start_run

pytestmark = pytest.mark.django_db

FULL = {
    "title": "Red bike",
    "description": "A red city bike.",
    "category": "bikes",
    "condition": "good",
    "brand": "Gazelle",
    "color": "red",
    "price_eur": 120,
}
EMPTY = dict.fromkeys(DRAFT_FIELDS)


def test_outcome_is_draft_or_the_error_type():
    assert run_outcome(status="succeeded", error_type="") == "draft"
    assert run_outcome(status="failed", error_type="refusal") == "refusal"
    assert run_outcome(status="failed", error_type="") == "internal"


def test_empty_fields_follow_is_blank():
    assert empty_fields(FULL) == []
    assert empty_fields({**FULL, "brand": "", "color": None}) == ["brand", "color"]
    assert empty_fields(None) == list(DRAFT_FIELDS)


@pytest.mark.parametrize(
    ("status", "draft", "no_usable"),
    [
        ("succeeded", FULL, False),
        ("succeeded", {**FULL, "brand": ""}, False),
        ("succeeded", EMPTY, True),
        ("succeeded", {"title": ""}, True),  # missing keys are empty too
        ("succeeded", None, True),
        ("failed", None, True),
    ],
)
def test_python_and_sql_agree_on_no_usable_draft(seller, status, draft, no_usable):
    run = start_run(seller)
    PrefillRun.objects.filter(pk=run.pk).update(status=status, draft=draft)
    assert has_no_usable_draft(status=status, draft=draft) is no_usable
    in_sql = PrefillRun.objects.filter(no_usable_draft_q(), pk=run.pk).exists()
    assert in_sql is no_usable


def test_finished_runs_are_announced_after_commit(seller, django_capture_on_commit_callbacks):
    seen = []

    def observer(run_ids, **kwargs):
        seen.extend(run_ids)

    def failing_observer(**kwargs):
        raise RuntimeError("an observer's bug")

    signals.prefill_runs_finished.connect(observer)
    signals.prefill_runs_finished.connect(failing_observer)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            run = start_run(seller)  # the in-process task finishes it
    finally:
        signals.prefill_runs_finished.disconnect(observer)
        signals.prefill_runs_finished.disconnect(failing_observer)
    run.refresh_from_db()
    assert run.status == "succeeded", "a failing observer does not fail the pre-fill"
    assert seen == [run.pk]
