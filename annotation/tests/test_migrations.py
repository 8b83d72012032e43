"""The data migration that makes stored verdicts agree with their values."""

import importlib

import pytest
from django.apps import apps

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import PrefillRun
from ai_prefill.schema import DRAFT_FIELDS
from ai_prefill.tests.factories import start_run
from annotation.models import Annotation, AnnotationTask

pytestmark = pytest.mark.django_db

migration = importlib.import_module("annotation.migrations.0004_verdicts_follow_values")


@pytest.fixture(autouse=True)
def _baseline(settings):
    settings.AI_PROVIDER = "baseline"


def _task(seller, *, draft=True) -> AnnotationTask:
    run = start_run(seller, shape="ball", color="red")
    prefill_run_execute(run_id=run.pk)
    if not draft:
        PrefillRun.objects.filter(pk=run.pk).update(status="failed", draft=None)
    return AnnotationTask.objects.create(run=PrefillRun.objects.get(pk=run.pk), reason="random")


def test_stored_verdicts_that_contradict_their_values_are_recomputed(seller, django_user_model):
    anna, ben = (django_user_model.objects.create_user(name) for name in ("anna", "ben"))
    task, failed = _task(seller), _task(seller, draft=False)
    draft = task.run.draft
    assert not draft["title"], "the offline baseline suggests no title"
    all_right = dict.fromkeys(DRAFT_FIELDS, True)
    typed_title = Annotation.objects.create(  # what the old form stored by default
        task=task, annotator=anna, values={**draft, "title": "Red ball"}, verdicts=all_right
    )
    consistent = Annotation.objects.create(
        task=task, annotator=ben, values={**draft, "title": "Red ball"},
        verdicts={**all_right, "title": False},
    )  # fmt: skip
    no_draft = Annotation.objects.create(
        task=failed, annotator=anna, values={**draft, "title": "Red ball"}, verdicts=all_right
    )
    skipped = Annotation.objects.create(task=failed, annotator=ben, skipped=True)

    changed = migration.recompute_verdicts(apps, None)

    assert changed == 2
    for row in (typed_title, consistent, no_draft, skipped):
        row.refresh_from_db()
    assert typed_title.verdicts == {**all_right, "title": False}
    assert consistent.verdicts == {**all_right, "title": False}
    assert no_draft.verdicts == dict.fromkeys(DRAFT_FIELDS, None)
    assert skipped.verdicts == {}
    assert migration.recompute_verdicts(apps, None) == 0, "a second run changes nothing"
