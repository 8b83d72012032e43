"""Sampling, claiming with a lease, reviewing and promoting: the queue's services."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import EvalCase, PrefillRun
from ai_prefill.tests.factories import start_run
from annotation import services
from annotation.models import AnnotationTask, SamplingPolicy
from annotation.sampling import runs_sample_for_annotation
from feedback.models import PrefillOutcome
from feedback.services import rating_set

pytestmark = pytest.mark.django_db

VALUES = {
    "title": "Red ball", "description": "A red ball.", "category": "sports-outdoors",
    "condition": "good", "brand": None, "color": "red", "price_eur": 8.0,
}  # fmt: skip


@pytest.fixture
def policy():
    policy = SamplingPolicy.current()
    policy.random_share = 0.0
    policy.double_annotation_share = 0.0
    policy.save()
    return policy


def finished_run(user, **kwargs) -> PrefillRun:
    run = start_run(user, shape="ball", color="red", **kwargs)
    prefill_run_execute(run_id=run.pk)
    return PrefillRun.objects.get(pk=run.pk)


@pytest.fixture
def annotator(django_user_model):
    return django_user_model.objects.create_user("ann", is_staff=True)


@pytest.fixture
def other_annotator(django_user_model):
    return django_user_model.objects.create_user("ben", is_staff=True)


def test_policies_pick_thumbs_down_failed_and_heavy_corrections_with_reasons(seller, policy):
    disliked, failed, corrected, plain = (finished_run(seller) for _ in range(4))
    rating_set(run=disliked, user=seller, rating="down")
    PrefillRun.objects.filter(pk=failed.pk).update(status="failed", error_type="refusal")
    PrefillOutcome.objects.create(run=corrected, status="published", fields_changed=4)

    tasks = {t.run_id: t for t in runs_sample_for_annotation()}
    assert {tasks[disliked.pk].reason, tasks[failed.pk].reason, tasks[corrected.pk].reason} == {
        "thumbs_down", "failed", "heavy_corrections",
    }  # fmt: skip
    assert plain.pk not in tasks
    assert tasks[failed.pk].reason_detail == "failed: refusal"
    assert tasks[corrected.pk].reason_detail == "4 fields corrected by the seller"
    assert tasks[disliked.pk].priority < tasks[corrected.pk].priority


def test_sampling_is_idempotent_and_a_run_enters_at_most_once(seller, policy):
    policy.random_share = 1.0
    policy.save()
    runs = [finished_run(seller) for _ in range(3)]
    assert len(runs_sample_for_annotation()) == 3
    assert runs_sample_for_annotation() == []
    rating_set(run=runs[0], user=seller, rating="down")  # a new reason does not add it twice
    assert runs_sample_for_annotation() == []
    assert AnnotationTask.objects.count() == 3


def test_random_share_is_stable_and_roughly_right(seller, policy):
    policy.random_share = 0.5
    policy.daily_cap = 1000
    policy.save()
    for _ in range(40):
        finished_run(seller)
    picked = {t.run_id for t in runs_sample_for_annotation()}
    assert 8 <= len(picked) <= 32
    AnnotationTask.objects.all().delete()
    assert {t.run_id for t in runs_sample_for_annotation()} == picked, "same runs every time"


def test_daily_cap_and_category_balance(seller, policy):
    policy.random_share = 1.0
    policy.daily_cap = 4
    policy.save()
    bikes = [finished_run(seller) for _ in range(5)]
    PrefillRun.objects.filter(pk__in=[r.pk for r in bikes]).update(draft={"category": "bikes"})
    books = [finished_run(seller) for _ in range(5)]
    PrefillRun.objects.filter(pk__in=[r.pk for r in books]).update(
        draft={"category": "books-music-film"}
    )
    tasks = runs_sample_for_annotation()
    assert len(tasks) == 4
    assert sorted(t.category for t in tasks) == [
        "bikes",
        "bikes",
        "books-music-film",
        "books-music-film",
    ]
    assert runs_sample_for_annotation() == [], "the cap holds for the rest of the day"


def test_unfinished_and_old_runs_are_not_sampled(seller, policy):
    policy.random_share = 1.0
    policy.save()
    start_run(seller)  # still queued
    old = finished_run(seller)
    PrefillRun.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    assert runs_sample_for_annotation() == []


@pytest.fixture
def open_tasks(seller, policy):
    policy.random_share = 1.0
    policy.save()
    for _ in range(3):
        finished_run(seller)
    return runs_sample_for_annotation()


def test_claim_gives_each_task_to_one_annotator_and_resumes_own(
    open_tasks, annotator, other_annotator
):
    first = services.task_claim_next(annotator=annotator)
    second = services.task_claim_next(annotator=other_annotator)
    assert first.pk != second.pk
    assert services.task_claim_next(annotator=annotator).pk == first.pk, "resume, not a new one"
    assert first.lease_expires_at > timezone.now()


def test_an_expired_lease_returns_the_task_to_the_queue(
    open_tasks, annotator, other_annotator, policy
):
    task = services.task_claim_next(annotator=annotator)
    AnnotationTask.objects.filter(pk=task.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    for _ in range(len(open_tasks)):
        claimed = services.task_claim_next(annotator=other_annotator)
        if claimed.pk == task.pk:
            break
        services.annotation_skip(task=claimed, annotator=other_annotator)
    assert claimed.pk == task.pk
    with pytest.raises(PermissionDenied):
        services.annotation_submit(task=task, annotator=annotator, values=VALUES)


def test_submit_and_promote_once_with_provenance(open_tasks, annotator):
    task = services.task_claim_next(annotator=annotator)
    services.annotation_submit(
        task=task, annotator=annotator, values=VALUES,
        key_attributes=["ball"], promote=True,
    )  # fmt: skip
    task.refresh_from_db()
    case = task.promoted_case
    assert task.status == "done" and task.claimed_by is None
    assert (case.source, case.source_run_id, case.created_by) == (
        "promoted",
        task.run_id,
        annotator,
    )
    assert case.expected_category == "sports-outdoors" and case.expected_brand == ""
    assert case.key_attributes == ["ball"] and "promoted" in case.tags
    assert case.image.read() == task.run.photo.open("rb").read()
    assert services.eval_case_promote(task=task, annotator=annotator) == case
    assert EvalCase.objects.filter(source="promoted").count() == 1


def test_a_task_cannot_be_promoted_before_review(open_tasks, annotator):
    with pytest.raises(ValidationError):
        services.eval_case_promote(task=AnnotationTask.objects.first(), annotator=annotator)


def test_two_annotators_who_disagree_go_to_adjudication(
    open_tasks, annotator, other_annotator, staff_with
):
    lead = staff_with("annotation.change_annotationtask", username="lena")  # who adjudicates
    AnnotationTask.objects.update(required_annotations=2)
    task = services.task_claim_next(annotator=annotator)
    services.annotation_submit(task=task, annotator=annotator, values=VALUES)
    task.refresh_from_db()
    assert task.status == "open"
    again = services.task_claim_next(annotator=other_annotator)
    while again.pk != task.pk:
        services.annotation_skip(task=again, annotator=other_annotator)
        again = services.task_claim_next(annotator=other_annotator)
    services.annotation_submit(
        task=again, annotator=other_annotator, values={**VALUES, "category": "toys-games"},
    )  # fmt: skip
    task.refresh_from_db()
    assert task.status == "disagreement"
    services.task_adjudicate(task=task, adjudicator=lead, values=VALUES, promote=True)
    task.refresh_from_db()
    assert task.status == "adjudicated" and task.promoted_case.created_by == lead


def test_an_annotator_never_gets_a_task_they_did(open_tasks, annotator):
    done = []
    while (task := services.task_claim_next(annotator=annotator)) is not None:
        services.annotation_submit(task=task, annotator=annotator, values=VALUES)
        done.append(task.pk)
    assert sorted(done) == sorted(t.pk for t in AnnotationTask.objects.all())


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_hand_out_a_task_twice(seller, django_user_model):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED (make test and CI use it)")
    policy = SamplingPolicy.current()
    policy.random_share, policy.double_annotation_share = 1.0, 0.0
    policy.save()
    for _ in range(12):
        finished_run(seller)
    runs_sample_for_annotation()
    annotators = [django_user_model.objects.create_user(f"a{i}", is_staff=True) for i in range(16)]
    claimed, errors = [], []
    barrier = threading.Barrier(len(annotators))

    def claim(user):
        try:
            barrier.wait()
            task = services.task_claim_next(annotator=user)
            claimed.append(task.pk if task else None)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    handed_out = [pk for pk in claimed if pk is not None]
    assert len(handed_out) == len(set(handed_out)) == 12, (
        "every task once, four annotators get none"
    )
    assert claimed.count(None) == 4


def test_a_promote_request_waits_for_the_second_annotator(open_tasks, annotator, other_annotator):
    AnnotationTask.objects.update(required_annotations=2)
    task = services.task_claim_next(annotator=annotator)
    services.annotation_submit(task=task, annotator=annotator, values=VALUES, promote=True)
    task.refresh_from_db()
    assert task.promoted_case is None, "one of two annotations is not yet an agreement"
    again = services.task_claim_next(annotator=other_annotator)
    while again.pk != task.pk:
        services.annotation_skip(task=again, annotator=other_annotator)
        again = services.task_claim_next(annotator=other_annotator)
    services.annotation_submit(task=again, annotator=other_annotator, values=VALUES)
    task.refresh_from_db()
    assert task.status == "done" and task.promoted_case.created_by == annotator


# --- verdicts follow the values ---------------------------------------------------------------


def test_a_title_typed_where_the_draft_had_none_is_stored_as_the_ai_being_wrong(
    open_tasks, annotator
):
    task = services.task_claim_next(annotator=annotator)
    draft = task.run.draft
    assert draft["title"] in ("", None), "the offline baseline suggests no title"

    annotation = services.annotation_submit(
        task=task, annotator=annotator, values={**draft, "title": "Red ball"}
    )

    annotation.refresh_from_db()
    assert annotation.verdicts["title"] is False
    assert {name for name, right in annotation.verdicts.items() if right} == (
        set(draft) - {"title"}
    ), "every field the annotator left as drafted: the AI was right"


def test_a_verdict_cannot_be_given_that_contradicts_the_values(open_tasks, annotator):
    task = services.task_claim_next(annotator=annotator)

    with pytest.raises(TypeError):
        services.annotation_submit(
            task=task, annotator=annotator, values=VALUES, verdicts=dict.fromkeys(VALUES, True)
        )

    assert not task.annotations.exists()


def test_verdicts_compare_with_the_one_definition_of_the_same_value():
    draft = {**VALUES, "brand": "Nike", "price_eur": 12, "color": None}
    values = {**VALUES, "brand": "nike ", "price_eur": "12.00", "color": "",
              "title": "Red football", "description": None}  # fmt: skip

    verdicts = services.annotation_verdicts(draft=draft, values=values)

    assert verdicts == {
        "title": False, "description": False, "category": True, "condition": True,
        "brand": True, "color": True, "price_eur": True,
    }  # fmt: skip
    zero = services.annotation_verdicts(draft={**VALUES, "price_eur": 0}, values=VALUES)
    assert zero["price_eur"] is False, "a give-away (0) is not the annotator's 8 EUR"


def test_a_run_with_no_draft_has_no_verdicts(seller, policy, annotator):
    run = finished_run(seller)
    PrefillRun.objects.filter(pk=run.pk).update(status="failed", error_type="refusal", draft=None)
    assert len(runs_sample_for_annotation()) == 1
    task = services.task_claim_next(annotator=annotator)
    assert task.run_id == run.pk and task.reason == "failed"

    annotation = services.annotation_submit(task=task, annotator=annotator, values=VALUES)

    annotation.refresh_from_db()
    assert annotation.verdicts == dict.fromkeys(VALUES, None)
