"""poll_after_ms: when a seller's page should ask about its run again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ai_prefill import polling
from ai_prefill.models import PrefillRun
from ai_prefill.polling import (
    EXPECTED_WHEN_UNKNOWN_S,
    POLL_MAX_MS,
    POLL_MIN_MS,
    expected_run_seconds,
    expected_run_seconds_forget,
    poll_after_ms,
)
from ai_prefill.tests.factories import start_run
from marketplace import memo

pytestmark = pytest.mark.django_db


def finished_runs(seller, *seconds, status=PrefillRun.Status.SUCCEEDED, ago=timedelta(0)):
    for duration in seconds:
        run = start_run(seller)
        created = timezone.now() - ago - timedelta(seconds=duration)
        PrefillRun.objects.filter(pk=run.pk).update(
            status=status, created_at=created, finished_at=created + timedelta(seconds=duration)
        )


def test_without_recent_runs_the_default_duration_is_expected(seller):
    finished_runs(seller, 0.2, ago=timedelta(hours=2))  # too old to say anything about now
    assert expected_run_seconds() == EXPECTED_WHEN_UNKNOWN_S


def test_the_median_of_recent_successful_runs_is_expected(seller):
    finished_runs(seller, 0.9, 1.2, 30.0)
    finished_runs(seller, 0.1, 0.1, 0.1, status=PrefillRun.Status.FAILED)  # not a draft
    assert expected_run_seconds() == pytest.approx(1.2)


def test_a_new_run_is_asked_about_when_its_draft_is_due(seller):
    finished_runs(seller, 1.0, 1.2, 1.4)
    run = start_run(seller)
    assert 900 <= poll_after_ms(run) <= 1200  # 1.2 s minus the moments since its upload


def test_slow_providers_are_still_asked_every_few_seconds(seller):
    finished_runs(seller, 8.0, 9.0)
    assert poll_after_ms(start_run(seller)) == POLL_MAX_MS


def test_an_overdue_run_is_asked_about_soon_but_not_in_a_loop(seller):
    finished_runs(seller, 1.0)
    run = start_run(seller)
    PrefillRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(seconds=5))
    run.refresh_from_db()
    assert poll_after_ms(run) == POLL_MIN_MS


def test_a_finished_run_needs_no_more_questions(seller):
    run = start_run(seller)
    for status in PrefillRun.TERMINAL:
        run.status = status
        assert poll_after_ms(run) is None


def test_the_duration_is_learnt_once_per_refresh_not_per_poll(
    seller, monkeypatch, django_assert_num_queries
):
    finished_runs(seller, 1.0)
    run = start_run(seller)
    clock = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: clock[0])
    expected_run_seconds_forget()
    with django_assert_num_queries(1):
        for _ in range(5):
            poll_after_ms(run)
    finished_runs(seller, 3.0, 3.0)
    assert expected_run_seconds() == pytest.approx(1.0)  # still the value learnt above
    clock[0] += polling.REFRESH_SECONDS
    assert expected_run_seconds() == pytest.approx(3.0)


def test_with_nothing_to_learn_from_it_looks_again_soon(seller, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: clock[0])
    expected_run_seconds_forget()
    assert expected_run_seconds() == EXPECTED_WHEN_UNKNOWN_S  # a fresh site
    finished_runs(seller, 0.8)  # its first draft
    clock[0] += polling.UNKNOWN_REFRESH_SECONDS
    assert expected_run_seconds() == pytest.approx(0.8)  # not the default for REFRESH_SECONDS
