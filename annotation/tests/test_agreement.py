"""Agreement between annotators (Cohen's kappa per field) and throughput per annotator."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import PrefillRun
from ai_prefill.schema import DRAFT_FIELDS
from ai_prefill.tests.factories import start_run
from annotation.models import Annotation, AnnotationTask, SamplingPolicy
from annotation.sampling import runs_sample_for_annotation
from annotation.selectors import (
    agreement_by_field,
    cohen_kappa_2x2,
    throughput_by_annotator,
)
from annotation.services import annotation_skip, annotation_submit, task_claim_next

# --- kappa on hand-computed tables ------------------------------------------------------------


def test_kappa_of_a_textbook_table():
    # n=50; observed agreement (20+15)/50 = 0.7; chance 0.5*0.6 + 0.5*0.4 = 0.5;
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    kappa, reason = cohen_kappa_2x2([[20, 5], [10, 15]])

    assert kappa == pytest.approx(0.4) and reason == ""


def test_kappa_of_perfect_agreement_is_one():
    assert cohen_kappa_2x2([[3, 0], [0, 2]])[0] == pytest.approx(1.0)


def test_kappa_of_systematic_disagreement_is_minus_one():
    # observed 0; chance 0.5*0.5 + 0.5*0.5 = 0.5; kappa = -0.5 / 0.5 = -1
    assert cohen_kappa_2x2([[0, 2], [2, 0]])[0] == pytest.approx(-1.0)


def test_kappa_when_one_rater_never_varies_is_zero():
    # rows 1.0 / 0.0, columns 0.6 / 0.4: chance 0.6 = observed 0.6, so kappa 0
    assert cohen_kappa_2x2([[3, 2], [0, 0]])[0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("table", "why"),
    [
        ([[5, 0], [0, 0]], "every verdict is the same"),
        ([[0, 0], [0, 7]], "every verdict is the same"),
        ([[0, 0], [0, 0]], "no double-annotated tasks"),
    ],
)
def test_kappa_is_na_with_the_reason_on_degenerate_tables(table, why):
    kappa, reason = cohen_kappa_2x2(table)

    assert kappa is None and why in reason


# --- from real annotations --------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _baseline(settings):
    settings.AI_PROVIDER = "baseline"


def _annotators(django_user_model, *names):
    group = Group.objects.get(name="Annotators")
    people = []
    for name in names:
        user = django_user_model.objects.create_user(username=name, password="x", is_staff=True)
        user.groups.add(group)
        people.append(user)
    return people


def _tasks(seller, count: int, *, double: bool) -> list[AnnotationTask]:
    for _ in range(count):
        run = start_run(seller)
        prefill_run_execute(run_id=run.pk)
    policy = SamplingPolicy.current()
    policy.random_share, policy.double_annotation_share = 1.0, 1.0 if double else 0.0
    policy.save()
    runs_sample_for_annotation(policy=policy)
    return list(AnnotationTask.objects.select_related("run").order_by("pk"))


def _submit(task, person, *, category_right: bool) -> Annotation:
    """The annotator keeps the draft's category (the AI was right) or picks another; the
    verdicts are the service's to derive. Everyone types a title where the draft had none."""
    claimed = task_claim_next(annotator=person)
    assert claimed.pk == task.pk
    drafted = task.run.draft["category"]
    category = drafted if category_right else ("furniture" if drafted != "furniture" else "bikes")
    values = {**task.run.draft, "title": "A thing", "category": category}
    annotation = annotation_submit(task=task, annotator=person, values=values)
    assert annotation.verdicts["category"] is category_right
    return annotation


@pytest.mark.django_db
def test_agreement_per_field_from_two_annotators(django_user_model, seller):
    anna, ben = _annotators(django_user_model, "anna", "ben")
    tasks = _tasks(seller, 4, double=True)
    # category verdicts (anna, ben): (R,R) (R,W) (W,W) (W,W) -> table [[1,1],[0,2]]:
    # observed 3/4; chance 0.5*0.25 + 0.5*0.75 = 0.5; kappa (0.75-0.5)/0.5 = 0.5
    for task, (a, b) in zip(
        tasks, [(True, True), (True, False), (False, False), (False, False)], strict=True
    ):
        _submit(task, anna, category_right=a)
        _submit(task, ben, category_right=b)

    rows = {row.field: row for row in agreement_by_field()}

    assert rows["category"].n == 4
    assert rows["category"].table == ((1, 1), (0, 2))
    assert rows["category"].observed == pytest.approx(0.75)
    assert rows["category"].kappa == pytest.approx(0.5)
    # Everyone typed a title where the draft had none: "AI corrected" four times over.
    assert rows["title"].table == ((0, 0), (0, 4))
    assert rows["title"].kappa is None and rows["title"].n == 4
    assert rows["title"].display.startswith("n/a (every verdict is the same")


@pytest.mark.django_db
def test_runs_with_no_draft_have_no_verdicts_and_do_not_count(django_user_model, seller):
    anna, ben = _annotators(django_user_model, "anna", "ben")
    tasks = _tasks(seller, 3, double=True)
    PrefillRun.objects.filter(pk=tasks[2].run_id).update(draft=None)  # nothing was suggested
    for task, (a, b) in zip(tasks[:2], [(True, False), (False, False)], strict=True):
        _submit(task, anna, category_right=a)
        _submit(task, ben, category_right=b)
    for person in (anna, ben):
        assert task_claim_next(annotator=person).pk == tasks[2].pk
        annotation = annotation_submit(
            task=tasks[2], annotator=person, values={**tasks[0].run.draft, "title": "A thing"}
        )
        assert annotation.verdicts == dict.fromkeys(DRAFT_FIELDS, None)

    rows = {row.field: row for row in agreement_by_field()}

    # (R,W) (W,W): observed 1/2; chance 0.5*0 + 0.5*1 = 0.5; kappa 0
    assert rows["category"].n == 2 and rows["category"].table == ((0, 1), (0, 1))
    assert rows["category"].kappa == pytest.approx(0.0)


@pytest.mark.django_db
def test_single_and_skipped_annotations_do_not_count(django_user_model, seller):
    anna, ben = _annotators(django_user_model, "anna", "ben")
    [task] = _tasks(seller, 1, double=True)
    _submit(task, anna, category_right=True)
    task_claim_next(annotator=ben)
    annotation_skip(task=task, annotator=ben)

    rows = {row.field: row for row in agreement_by_field()}

    assert rows["category"].n == 0 and rows["category"].reason == "no double-annotated tasks"


@pytest.mark.django_db
def test_throughput_per_annotator(django_user_model, seller):
    anna, ben = _annotators(django_user_model, "anna", "ben")
    tasks = _tasks(seller, 4, double=False)
    now = timezone.now()
    for task, seconds in zip(tasks[:3], (60, 120, 600), strict=True):
        annotation = _submit(task, anna, category_right=True)
        Annotation.objects.filter(pk=annotation.pk).update(
            started_at=now - timedelta(seconds=seconds), submitted_at=now
        )
    task_claim_next(annotator=ben)
    annotation_skip(task=tasks[3], annotator=ben)
    # anna's slowest one was 10 days ago: outside the 7-day window
    Annotation.objects.filter(task=tasks[2]).update(
        started_at=now - timedelta(days=10, seconds=600), submitted_at=now - timedelta(days=10)
    )

    rows = {row.username: row for row in throughput_by_annotator(days=7, now=now)}

    assert (rows["anna"].done, rows["anna"].skipped) == (2, 0)
    assert rows["anna"].median_seconds == pytest.approx(90)
    assert (rows["ben"].done, rows["ben"].skipped, rows["ben"].median_seconds) == (0, 1, None)
