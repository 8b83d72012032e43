"""Sell sessions: one opening of the Sell form, in every arm, up to a publish or abandonment."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from ai_prefill.tests.factories import start_run
from experiments.models import Exposure
from experiments.services import arm_pause, assignment_for
from experiments.tests.factories import arm, experiment_running
from feedback.models import SellSession
from feedback.services import (
    sell_session_get_owned,
    sell_session_mark,
    sell_session_open,
    sell_session_publish,
    sell_sessions_mark_abandoned,
)
from feedback.tasks import outcomes_mark_abandoned_task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _windows(settings):
    settings.FEEDBACK_SELL_SESSION_RESUME_MINUTES = 30
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24


def _age(session, **delta) -> None:
    SellSession.objects.filter(pk=session.pk).update(opened_at=timezone.now() - timedelta(**delta))
    session.refresh_from_db()


# --- open and resume -----------------------------------------------------------------------------


def test_a_production_seller_gets_a_session_and_no_exposure(seller):
    session = sell_session_open(user=seller, assignment=None)
    assert (session.user, session.experiment, session.arm) == (seller, None, None)
    assert session.status == SellSession.Status.OPEN and session.opened_at
    assert not Exposure.objects.exists()


def test_an_enrolled_seller_gets_a_session_in_their_arm_and_one_exposure(seller, staff):
    experiment = experiment_running(actor=staff)
    served = assignment_for(user=seller)
    session = sell_session_open(user=seller, assignment=served)
    assert (session.experiment_id, session.arm_id) == (experiment.pk, served.arm_id)
    again = sell_session_open(user=seller, assignment=served)  # a reload
    assert again.pk == session.pk and SellSession.objects.count() == 1
    [exposure] = Exposure.objects.all()
    assert (exposure.session_id, exposure.arm_id, exposure.user) == (
        session.pk,
        served.arm_id,
        seller,
    )


def test_a_session_resumes_only_within_the_window(seller):
    first = sell_session_open(user=seller, assignment=None)
    _age(first, minutes=29)
    assert sell_session_open(user=seller, assignment=None).pk == first.pk
    _age(first, minutes=31)
    later = sell_session_open(user=seller, assignment=None)
    assert later.pk != first.pk and SellSession.objects.count() == 2
    assert sell_session_open(user=seller, assignment=None).pk == later.pk  # the newest open one


def test_a_new_session_in_another_arm_or_after_publish(seller, other_seller, staff):
    experiment = experiment_running(actor=staff)
    served = assignment_for(user=seller)
    in_arm = sell_session_open(user=seller, assignment=served)
    arm_pause(arm=arm(experiment, served.arm_key), actor=staff, reason="slow")
    assert assignment_for(user=seller) is None  # back on production: not the arm's session
    production = sell_session_open(user=seller, assignment=None)
    assert production.pk != in_arm.pk and production.arm is None
    assert sell_session_open(user=other_seller, assignment=None).pk != production.pk
    sell_session_publish(session=production, listing_id=7, published_at=timezone.now())
    assert sell_session_open(user=seller, assignment=None).pk not in {production.pk, in_arm.pk}


def test_only_the_owner_gets_a_session(seller, other_seller):
    session = sell_session_open(user=seller, assignment=None)
    assert sell_session_get_owned(session_id=session.pk, user=seller) == session
    assert sell_session_get_owned(session_id=session.pk, user=other_seller) is None


# --- marks ---------------------------------------------------------------------------------------


def test_marks_count_the_first_time_only(seller):
    session = sell_session_open(user=seller, assignment=None)
    assert sell_session_mark(session=session, event="photo_chosen") is True
    first = SellSession.objects.get(pk=session.pk).photo_chosen_at
    assert first is not None
    assert sell_session_mark(session=session, event="photo_chosen") is False  # a second photo
    assert SellSession.objects.get(pk=session.pk).photo_chosen_at == first
    run = start_run(seller)
    assert sell_session_mark(session=session, event="draft_shown", run=run) is True
    session.refresh_from_db()
    assert session.draft_shown_at >= first and session.run == run
    assert sell_session_mark(session=session, event="draft_shown", run=run) is False
    with pytest.raises(ValueError, match="unknown sell session event 'published'"):
        sell_session_mark(session=session, event="published")


def test_marks_only_while_open(seller):
    session = sell_session_open(user=seller, assignment=None)
    sell_session_publish(session=session, listing_id=1, published_at=timezone.now())
    run = start_run(seller)
    assert sell_session_mark(session=session, event="photo_chosen") is False
    assert sell_session_mark(session=session, event="draft_shown", run=run) is False
    session.refresh_from_db()
    assert (session.photo_chosen_at, session.draft_shown_at, session.run) == (None, None, None)


def test_a_run_of_another_seller_is_refused(seller, other_seller):
    session = sell_session_open(user=seller, assignment=None)
    theirs = start_run(other_seller)
    with pytest.raises(PermissionDenied, match="belongs to someone else"):
        sell_session_mark(session=session, event="draft_shown", run=theirs)
    with pytest.raises(PermissionDenied, match="belongs to someone else"):
        sell_session_publish(session=session, listing_id=1, published_at=timezone.now(), run=theirs)
    session.refresh_from_db()
    assert session.status == SellSession.Status.OPEN
    assert (session.draft_shown_at, session.run) == (None, None)


# --- publish and abandon -------------------------------------------------------------------------


def test_publish_once_with_the_seconds_it_took(seller):
    session = sell_session_open(user=seller, assignment=None)
    _age(session, seconds=95)
    published_at = session.opened_at + timedelta(seconds=93.5)
    run = start_run(seller)
    assert sell_session_publish(session=session, listing_id=41, published_at=published_at, run=run)
    session.refresh_from_db()
    assert (session.status, session.listing_id, session.published_at, session.run) == (
        SellSession.Status.PUBLISHED,
        41,
        published_at,
        run,
    )
    assert session.seconds_to_publish == pytest.approx(93.5)
    assert not sell_session_publish(session=session, listing_id=42, published_at=timezone.now())
    session.refresh_from_db()
    assert (session.listing_id, session.seconds_to_publish) == (41, pytest.approx(93.5))


def test_a_publish_after_abandonment_counts_as_published(seller):
    session = sell_session_open(user=seller, assignment=None)
    _age(session, hours=25)
    assert sell_sessions_mark_abandoned() == 1
    session.refresh_from_db()
    assert session.status == SellSession.Status.ABANDONED and session.abandoned_at
    now = timezone.now()
    assert sell_session_publish(session=session, listing_id=9, published_at=now)
    session.refresh_from_db()
    assert (session.status, session.abandoned_at) == (SellSession.Status.PUBLISHED, None)
    assert session.seconds_to_publish == pytest.approx(25 * 3600, abs=5)


def test_abandonment_marks_only_old_open_sessions_and_reruns_harmlessly(seller, other_seller):
    old_open = sell_session_open(user=seller, assignment=None)
    _age(old_open, hours=24, minutes=1)
    old_published = sell_session_open(user=other_seller, assignment=None)
    _age(old_published, hours=30)
    sell_session_publish(session=old_published, listing_id=3, published_at=timezone.now())
    young = sell_session_open(user=seller, assignment=None)  # a new one: the old is past 30 min
    _age(young, hours=23)

    now = timezone.now()
    assert sell_sessions_mark_abandoned(now=now) == 1
    assert sell_sessions_mark_abandoned(now=now) == 0
    assert outcomes_mark_abandoned_task() == 0  # the beat task runs it too: nothing left
    statuses = dict(SellSession.objects.values_list("pk", "status"))
    assert statuses == {
        old_open.pk: SellSession.Status.ABANDONED,
        old_published.pk: SellSession.Status.PUBLISHED,
        young.pk: SellSession.Status.OPEN,
    }
    assert SellSession.objects.get(pk=old_open.pk).abandoned_at == now
    _age(young, hours=25)
    assert outcomes_mark_abandoned_task() == 1
