"""Writes of seller feedback: ratings, outcomes at publish, late edits, abandonment."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from ai_prefill.execution import prefill_run_execute
from ai_prefill.models import PrefillRun
from ai_prefill.tests.factories import start_run
from feedback.models import FieldCorrection, PrefillOutcome, SuggestionRating
from feedback.services import (
    outcome_record_late_edit,
    outcome_record_publish,
    outcomes_mark_abandoned,
    rating_set,
)
from feedback.tasks import outcomes_mark_abandoned_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(seller):
    """A run finished by the offline baseline provider: it has a real draft."""
    queued = start_run(seller, shape="bike", color="red")
    prefill_run_execute(run_id=queued.pk)
    queued.refresh_from_db()
    assert queued.status == PrefillRun.Status.SUCCEEDED and queued.draft
    return queued


@pytest.fixture
def failed_run(seller):
    queued = start_run(seller)
    PrefillRun.objects.filter(pk=queued.pk).update(
        status=PrefillRun.Status.FAILED, error_type="timeout", draft=None
    )
    queued.refresh_from_db()
    return queued


def _publish(run, final_values, *, seconds=90):
    published_at = timezone.now()
    return outcome_record_publish(
        run=run,
        final_values=final_values,
        listing_id=7,
        form_opened_at=published_at - timedelta(seconds=seconds),
        published_at=published_at,
    )


def _age(run, hours: float):
    PrefillRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(hours=hours))


# --- ratings ---------------------------------------------------------------------------------


def test_the_seller_rates_and_can_change_their_mind(run, seller):
    rating_set(run=run, user=seller, rating="down", comment="  wrong colour  ")
    rating = rating_set(run=run, user=seller, rating="up")
    assert SuggestionRating.objects.filter(run=run).count() == 1
    rating.refresh_from_db()
    assert (rating.rating, rating.comment) == ("up", "")


def test_the_comment_is_kept_trimmed(run, seller):
    rating = rating_set(run=run, user=seller, rating="down", comment="  wrong colour \n")
    assert rating.comment == "wrong colour"


# Staff who may view every run, and a superuser, rate no run that is not theirs either.
@pytest.mark.parametrize("who", ["other_seller", "run_viewer", "superuser"])
def test_only_the_runs_seller_may_rate(run, request, who):
    with pytest.raises(PermissionDenied):
        rating_set(run=run, user=request.getfixturevalue(who), rating="up")
    assert not SuggestionRating.objects.exists()


# --- publish ---------------------------------------------------------------------------------


def test_publish_records_corrections_against_the_runs_draft(run):
    suggested_color = run.draft["color"]  # what the baseline saw in the photo
    assert suggested_color
    final = {**run.draft, "color": f"dark {suggested_color}", "price_eur": 120}
    outcome = _publish(run, final, seconds=95)
    assert outcome.status == PrefillOutcome.Status.PUBLISHED
    assert (outcome.listing_id, outcome.seconds_to_publish, outcome.fields_changed) == (7, 95, 2)
    corrections = {c.field: c for c in outcome.corrections.all()}
    assert len(corrections) == 7
    assert {f for f, c in corrections.items() if c.changed} == {"color", "price_eur"}
    assert (corrections["color"].suggested, corrections["color"].final) == (
        suggested_color,
        f"dark {suggested_color}",
    )
    assert 0 < corrections["color"].similarity < 1
    assert corrections["category"].similarity == 1.0
    assert all(c.stage == FieldCorrection.Stage.PUBLISH for c in corrections.values())


def test_publishing_again_replaces_the_publish_corrections(run):
    _publish(run, {**run.draft, "title": "First"})
    outcome = _publish(run, dict(run.draft))
    assert PrefillOutcome.objects.filter(run=run).count() == 1
    assert outcome.corrections.count() == 7
    assert outcome.fields_changed == 0
    assert not outcome.corrections.filter(changed=True).exists()


def test_a_failed_run_without_a_draft_records_no_corrections(failed_run):
    outcome = _publish(failed_run, {"title": "Hand-written", "category": "bikes"})
    assert outcome.status == PrefillOutcome.Status.PUBLISHED
    assert outcome.fields_changed == 0
    assert not FieldCorrection.objects.exists()


def test_publish_without_a_form_opening_time_has_no_duration(run):
    outcome = outcome_record_publish(
        run=run,
        final_values=dict(run.draft),
        listing_id=1,
        form_opened_at=None,
        published_at=timezone.now(),
    )
    assert outcome.seconds_to_publish is None


def test_publish_after_abandonment_wins(run):
    _age(run, 48)
    assert outcomes_mark_abandoned() == 1
    outcome = _publish(run, dict(run.draft))
    assert outcome.status == PrefillOutcome.Status.PUBLISHED
    assert PrefillOutcome.objects.filter(run=run).count() == 1


# --- late edits --------------------------------------------------------------------------------


def test_late_edit_inside_the_window_is_a_late_correction(run, settings):
    settings.FEEDBACK_LATE_CORRECTION_HOURS = 72
    outcome = _publish(run, dict(run.draft))
    stored = outcome_record_late_edit(
        run=run,
        before={"title": run.draft["title"], "color": run.draft["color"]},
        after={"title": "Better title", "color": run.draft["color"]},
        at=outcome.published_at + timedelta(hours=71),
    )
    assert stored == 1  # the colour did not change: not a correction
    late = outcome.corrections.get(stage=FieldCorrection.Stage.LATE)
    assert (late.field, late.final, late.changed) == ("title", "Better title", True)
    assert outcome.corrections.filter(stage=FieldCorrection.Stage.PUBLISH).count() == 7


def test_late_edit_outside_the_window_is_ignored(run, settings):
    settings.FEEDBACK_LATE_CORRECTION_HOURS = 72
    outcome = _publish(run, dict(run.draft))
    stored = outcome_record_late_edit(
        run=run,
        before={"title": run.draft["title"]},
        after={"title": "Much later"},
        at=outcome.published_at + timedelta(hours=73),
    )
    assert stored == 0
    assert not outcome.corrections.filter(stage=FieldCorrection.Stage.LATE).exists()


def test_late_edit_of_a_run_that_was_not_published_is_ignored(run):
    assert outcome_record_late_edit(
        run=run, before={"title": "a"}, after={"title": "b"}, at=timezone.now()
    ) == 0  # fmt: skip
    PrefillOutcome.objects.create(run=run, status=PrefillOutcome.Status.ABANDONED)
    assert outcome_record_late_edit(
        run=run, before={"title": "a"}, after={"title": "b"}, at=timezone.now()
    ) == 0  # fmt: skip
    assert not FieldCorrection.objects.exists()


# --- abandonment -------------------------------------------------------------------------------


def test_abandonment_marks_each_old_run_once(run, settings):
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24
    _age(run, 25)
    assert outcomes_mark_abandoned() == 1
    assert outcomes_mark_abandoned() == 0
    assert PrefillOutcome.objects.get(run=run).status == PrefillOutcome.Status.ABANDONED


def test_a_published_run_is_never_marked_abandoned(run, settings):
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24
    _publish(run, dict(run.draft))
    _age(run, 100)
    assert outcomes_mark_abandoned() == 0
    assert PrefillOutcome.objects.get(run=run).status == PrefillOutcome.Status.PUBLISHED


def test_runs_newer_than_the_cutoff_are_not_marked(seller, settings):
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24
    young, old = start_run(seller), start_run(seller)
    _age(young, 23)
    _age(old, 24.5)
    assert outcomes_mark_abandoned() == 1
    assert not PrefillOutcome.objects.filter(run=young).exists()
    assert PrefillOutcome.objects.get(run=old).status == PrefillOutcome.Status.ABANDONED


def test_abandonment_uses_the_given_now(seller, settings):
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24
    start_run(seller)
    assert outcomes_mark_abandoned(now=timezone.now() + timedelta(hours=23)) == 0
    assert outcomes_mark_abandoned(now=timezone.now() + timedelta(hours=25)) == 1


def test_the_task_marks_abandoned_runs(run, settings):
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24
    _age(run, 30)
    assert outcomes_mark_abandoned_task.delay().get() == 1
