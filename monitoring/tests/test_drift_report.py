"""The daily drift report over generated runs: a shift is flagged, a stable day is not, the
windows are the right ones, and building a day again replaces its report."""

import datetime as dt

import pytest
import time_machine
from django.core.management import call_command

from ai_prefill.models import PrefillRun
from monitoring.drift import NO_VALUE, latest_drift, suggested_bins
from monitoring.drift_models import DriftReport
from monitoring.drift_services import drift_report_build, drift_report_build_due
from monitoring.tasks import drift_report_task
from monitoring.tests.drift_factories import noon, reference_generate, runs_generate
from tests.concurrency import in_parallel, needs_postgresql

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 10)
# 40/30/20/10 % of four categories, 50 runs a day.
USUAL = {"bikes": 20, "furniture": 15, "fashion": 10, "electronics": 5}


@pytest.fixture
def reference(seller):
    reference_generate(user=seller, day=DAY, per_day=USUAL)


def _category(report: DriftReport) -> dict:
    return report.dimensions["category"]


def test_a_day_like_the_reference_is_stable(seller, reference):
    runs_generate(user=seller, day=DAY, categories={k: v * 4 for k, v in USUAL.items()})
    report = drift_report_build(day=DAY)
    category = _category(report)
    assert category["psi"] == pytest.approx(0.0, abs=1e-9)
    assert category["chi2_p"] == pytest.approx(1.0)
    assert category["level"] == "stable"
    assert category["n"] == 200
    assert category["reference_n"] == 28 * 50
    assert not report.drifted
    assert report.run_count == 200


def test_a_shift_in_suggested_categories_is_flagged(seller, reference):
    shifted = {"bikes": 20, "furniture": 20, "fashion": 40, "electronics": 120}
    runs_generate(user=seller, day=DAY, categories=shifted)
    report = drift_report_build(day=DAY)
    category = _category(report)
    assert category["psi"] > 0.25
    assert category["chi2_p"] < 0.001
    assert category["level"] == "drifted"
    assert category["drifted"] is True
    assert report.drifted
    assert report.max_psi == pytest.approx(category["psi"])
    bins = suggested_bins("category")
    assert category["counts"][bins.index("electronics")] == 120
    assert category["reference_counts"][bins.index("electronics")] == 28 * 5
    # The conditions did not move: that dimension stays stable.
    assert report.dimensions["condition"]["level"] == "stable"


def test_a_small_day_is_never_called_drifted(seller, reference):
    runs_generate(user=seller, day=DAY, categories={"toys-games": 30})
    report = drift_report_build(day=DAY)
    category = _category(report)
    assert category["psi"] > 0.25
    assert category["level"] == "insufficient_data"
    assert category["drifted"] is False
    assert report.max_psi is None  # no dimension had enough runs to be measured


def test_failed_runs_do_not_count_and_blank_categories_have_their_bin(seller):
    runs_generate(user=seller, day=DAY, categories={"bikes": 3, None: 2, "": 1})
    runs_generate(user=seller, day=DAY, categories={"bikes": 7}, status=PrefillRun.Status.FAILED)
    category = _category(drift_report_build(day=DAY))
    bins = suggested_bins("category")
    assert category["n"] == 6
    assert category["counts"][bins.index("bikes")] == 3
    assert category["counts"][bins.index(NO_VALUE)] == 3
    assert category["reference_n"] == 0
    assert category["psi"] is None
    assert category["level"] == "insufficient_data"


def test_the_windows_are_the_day_and_the_28_days_before(seller):
    runs_generate(user=seller, day=DAY, categories={"bikes": 1})
    runs_generate(user=seller, day=DAY - dt.timedelta(days=1), categories={"furniture": 2})
    runs_generate(user=seller, day=DAY - dt.timedelta(days=28), categories={"fashion": 4})
    runs_generate(user=seller, day=DAY - dt.timedelta(days=29), categories={"books-music-film": 8})
    runs_generate(user=seller, day=DAY + dt.timedelta(days=1), categories={"tools-diy": 16})
    category = _category(drift_report_build(day=DAY))
    assert category["n"] == 1
    assert category["reference_n"] == 2 + 4


def test_input_statistics_shift_is_flagged(seller):
    reference_generate(user=seller, day=DAY, per_day=USUAL)
    # The day's photos are dark: brightness moves, nothing else does.
    runs_generate(user=seller, day=DAY, categories=USUAL, stats={"brightness": 40.0})
    runs_generate(user=seller, day=DAY, categories=USUAL)
    report = drift_report_build(day=DAY)
    brightness = report.dimensions["brightness"]
    assert brightness["kind"] == "input"
    assert brightness["n"] == 100
    assert brightness["level"] == "drifted"
    assert brightness["counts"][1] == 50  # 32 <= 40 < 64
    for name in ("megapixels", "aspect", "sharpness", "category"):
        assert report.dimensions[name]["level"] == "stable", name


def test_building_a_day_again_replaces_its_report(seller, reference):
    runs_generate(user=seller, day=DAY, categories=USUAL)
    first = drift_report_build(day=DAY)
    again = drift_report_build(day=DAY)
    assert DriftReport.objects.count() == 1
    assert again.pk == first.pk
    assert again.dimensions == first.dimensions
    runs_generate(user=seller, day=DAY, categories={"electronics": 150})
    third = drift_report_build(day=DAY)
    assert DriftReport.objects.count() == 1
    assert third.dimensions["category"]["n"] == 200
    assert DriftReport.objects.get().drifted


def test_latest_drift(seller, reference):
    assert latest_drift() is None
    runs_generate(user=seller, day=DAY, categories=USUAL)
    drift_report_build(day=DAY)
    drift_report_build(day=DAY - dt.timedelta(days=3))
    latest = latest_drift()
    assert latest["day"] == DAY
    # In this order on every database (PostgreSQL's jsonb does not keep the stored order).
    assert list(latest["dimensions"]) == [
        "category",
        "condition",
        "megapixels",
        "aspect",
        "brightness",
        "sharpness",
    ]
    assert isinstance(latest["dimensions"]["category"]["psi"], float)


def test_the_hourly_task_builds_yesterday_until_its_report_is_final(seller, settings):
    settings.AI_RUN_STALE_AFTER_SECONDS = 600
    runs_generate(user=seller, day=DAY, categories=USUAL)
    day_end = noon(DAY) + dt.timedelta(hours=12)
    with time_machine.travel(day_end + dt.timedelta(minutes=5), tick=False):
        first = drift_report_build_due()
        assert first.day == DAY
    # A run created late on DAY finishes after midnight: the next hour's build includes it.
    late = runs_generate(user=seller, day=DAY, categories={"bikes": 1})
    with time_machine.travel(day_end + dt.timedelta(minutes=65), tick=False):
        again = drift_report_build_due()
        assert again.pk == first.pk
        assert again.run_count == 51
    # Computed after every run of DAY had finished: final, not built again.
    PrefillRun.objects.filter(pk=late[0].pk).delete()
    with time_machine.travel(day_end + dt.timedelta(minutes=125), tick=False):
        assert drift_report_build_due() is None
    assert DriftReport.objects.get().run_count == 51


def test_the_management_command(seller, capsys):
    runs_generate(user=seller, day=DAY, categories=USUAL)
    call_command("monitoring_drift_report", "--day", DAY.isoformat())
    out = capsys.readouterr().out
    assert "2026-03-10" in out
    assert "category" in out
    assert DriftReport.objects.get().run_count == 50


@pytest.mark.django_db(transaction=True)
def test_two_builders_of_one_day_leave_one_report(seller):
    needs_postgresql()
    runs_generate(user=seller, day=DAY, categories=USUAL)
    in_parallel([lambda: drift_report_build(day=DAY)] * 4)
    assert DriftReport.objects.filter(day=DAY).count() == 1


def test_the_beat_task_builds_yesterday(seller):
    runs_generate(user=seller, day=DAY, categories=USUAL)
    with time_machine.travel(noon(DAY + dt.timedelta(days=1)), tick=False):
        drift_report_task.delay()
    assert DriftReport.objects.get().day == DAY
