"""experiment_results: every figure equals a direct computation with statsmodels/scipy/numpy on
the arrays the sessions were generated from; the censoring rule; arms without sessions; the CSV;
the sample size planned from the last 28 days."""

import csv
import io
import json
import math
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone
from scipy import stats as scipy_stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats import proportion

from experiments import stats
from experiments.models import Arm
from experiments.services import ArmSpec, arm_pause, live_experiments_forget, srm_acknowledge
from feedback import experiment_results as experiment_results_module
from feedback.experiment_results import (
    CSV_ARM_COLUMNS,
    experiment_results,
    experiment_results_csv,
    experiment_sample_size,
)
from feedback.models import SellSession
from feedback.tests.experiment_data import (
    arm_fill,
    experiment_running,
    guardrails_default,
    now_fixed,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_live():
    live_experiments_forget()
    yield
    live_experiments_forget()


@pytest.fixture
def users(django_user_model):
    return [django_user_model.objects.create_user(f"seller{i}") for i in range(12)]


def _arrays(data, window):
    durations = np.concatenate(
        (data.published_seconds, np.full(data.abandoned, window), data.open_ages)
    )
    published = np.arange(durations.size) < len(data.published_seconds)
    return np.maximum(durations, 1.0), published


@pytest.fixture
def generated(users, settings):
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 24
    three = [ArmSpec("control", is_control=True), ArmSpec("faster"), ArmSpec("off", weight=2)]
    experiment = experiment_running(arms=three, guardrails=guardrails_default(min_sample=20))
    arms = {arm.key: arm for arm in experiment.arms.all()}
    rng = np.random.default_rng(7)
    now = now_fixed()
    data = {
        "control": arm_fill(arms["control"], users[:4], rng, n=300, now=now, median=240),
        "faster": arm_fill(arms["faster"], users[4:8], rng, n=300, now=now, median=150, fail=0.3),
        "off": arm_fill(arms["off"], users[8:], rng, n=250, now=now, runs=0, abandon=0.3),
    }
    return experiment, data, now


def test_counts_and_rates_equal_the_generated_data(generated):
    experiment, data, now = generated
    results = experiment_results(experiment=experiment, now=now)
    json.dumps(results)  # the API returns it as it is
    arms = {arm["key"]: arm for arm in results["arms"]}
    assert list(arms) == ["control", "faster", "off"]
    for key, d in data.items():
        arm = arms[key]
        published, opened = len(d.published_seconds), len(d.open_ages)
        assert arm["sellers"] == d.sellers == 4
        assert (arm["published"], arm["abandoned"], arm["open"]) == (published, d.abandoned, opened)
        assert arm["sessions"] == published + d.abandoned + opened
        assert arm["abandonment"] == {
            "value": pytest.approx(d.abandoned / (published + d.abandoned)),
            "n": published + d.abandoned,
        }
        finished = [s for s in d.run_status if s != "running"]
        bad = sum(s in ("failed", "blank") for s in finished)
        assert arm["runs"] == len(d.run_status)
        assert arm["failures"]["n"] == len(finished)
        assert arm["failures"]["value"] == (
            pytest.approx(bad / len(finished)) if finished else None
        )
        assert arm["p95_seconds_to_draft"] == (
            pytest.approx(np.percentile(d.draft_seconds, 95), abs=1e-3) if d.draft_seconds else None
        )
        assert arm["cost_per_published_usd"] == pytest.approx(d.cost / published)
        n_ratings = d.up + d.down
        assert arm["thumbs_up"]["n"] == n_ratings
        if n_ratings:
            assert arm["thumbs_up"]["value"] == pytest.approx(d.up / n_ratings)
        kept = sum(k for k, _ in d.kept.values())
        total = sum(n for _, n in d.kept.values())
        assert arm["field_acceptance"]["n"] == total
        for name, (k, n) in d.kept.items():
            assert arm["field_corrections"][name] == {"value": pytest.approx((n - k) / n), "n": n}
        if total:
            assert arm["field_acceptance"]["value"] == pytest.approx(kept / total)
    assert arms["off"]["runs"] == 0 and arms["off"]["failures"] == {"value": None, "n": 0}
    assert arms["off"]["p95_seconds_to_draft"] is None


def test_time_to_publish_and_tests_equal_statsmodels(generated):
    experiment, data, now = generated
    results = experiment_results(experiment=experiment, now=now)
    arms = {arm["key"]: arm for arm in results["arms"]}
    window = 24 * 3600.0
    control = _arrays(data["control"], window)
    for key, d in data.items():
        durations, published = _arrays(d, window)
        km = SurvfuncRight(durations, published.astype(float))
        ttp = arms[key]["time_to_publish"]
        assert ttp["median_seconds"] == pytest.approx(km.quantile(0.5))
        for t in (60, 120, 300):
            expected = 1 - km.surv_prob[km.surv_times <= t][-1] if (km.surv_times <= t).any() else 0
            assert ttp["published_within"][str(t)] == pytest.approx(expected)
        if key == "control":
            assert arms[key]["vs_control"] is None and arms[key]["recommendation"] is None
            continue
        vs = arms[key]["vs_control"]
        time = np.concatenate((control[0], durations))
        status = np.concatenate((control[1], published)).astype(float)
        group = np.r_[np.zeros(control[0].size), np.ones(durations.size)]
        chisq, p_value = survdiff(time, status, group)
        assert vs["logrank"]["chisq"] == pytest.approx(chisq)
        assert vs["logrank"]["p_value"] == pytest.approx(p_value)
        c = data["control"]
        c_n, a_n = len(c.published_seconds) + c.abandoned, len(d.published_seconds) + d.abandoned
        diff = proportion.test_proportions_2indep(
            d.abandoned, a_n, c.abandoned, c_n, compare="diff", method="agresti-caffo"
        )
        assert vs["abandonment"]["p_value"] == pytest.approx(diff.pvalue)
        assert vs["abandonment"]["difference"] == pytest.approx(
            d.abandoned / a_n - c.abandoned / c_n
        )
        tau = abs(math.log(1 / (1 - experiment.minimum_effect)))
        u, v = vs["logrank"]["observed_minus_expected"], vs["logrank"]["variance"]
        lam = math.sqrt(1 / (1 + tau**2 * v)) * math.exp(tau**2 * u**2 / (2 * (1 + tau**2 * v)))
        assert vs["always_valid"]["p_value"] == pytest.approx(min(1.0, 1 / lam))
        assert arms[key]["recommendation"]["action"] in ("ship", "keep running", "stop")
    # Holm over the two non-control arms, on the always-valid p-values.
    ps = [arms[k]["vs_control"]["always_valid"]["p_value"] for k in ("faster", "off")]
    smallest = min(ps)
    assert arms["faster" if ps[0] == smallest else "off"]["vs_control"]["holm_reject"] == (
        smallest * 2 <= experiment.alpha
    )


def test_srm_and_guardrails(generated, users):
    experiment, data, now = generated
    results = experiment_results(experiment=experiment, now=now)
    # sellers 4, 4, 4 against weights 1, 1, 2: scipy's chi-square, not checked under 100 sellers.
    chisq, p_value = scipy_stats.chisquare([4, 4, 4], [3, 3, 6])
    assert results["srm"]["chisq"] == pytest.approx(chisq)
    assert results["srm"]["p_value"] == pytest.approx(p_value)
    assert results["srm"]["checked"] is False and results["srm"]["mismatch"] is False
    faster = next(arm for arm in results["arms"] if arm["key"] == "faster")
    failed = next(g for g in faster["guardrails"] if g["metric"] == "failed_or_empty")
    assert failed["value"] == faster["failures"]["value"] and failed["n"] == faster["failures"]["n"]
    assert failed["judged"] is True
    assert failed["breached"] is (failed["value"] > 0.2)
    assert failed["breached"]  # 30% failed + 5% blank drafts were generated
    assert faster["recommendation"]["action"] == "stop"
    assert any("Failed or empty" in reason for reason in faster["recommendation"]["reasons"])
    off = next(arm for arm in results["arms"] if arm["key"] == "off")
    assert [g["judged"] for g in off["guardrails"]] == [False, False, True]  # no runs; publishes


def test_censoring_rule(users, settings):
    """Published: event at its seconds; abandoned: censored at the window; open: at its age."""
    settings.FEEDBACK_ABANDON_AFTER_HOURS = 2
    experiment = experiment_running()
    control = experiment.arms.get(is_control=True)
    now = now_fixed()
    common = {"user": users[0], "experiment": experiment, "arm": control}
    SellSession.objects.bulk_create([
        SellSession(**common, opened_at=now - timedelta(hours=9), status="published",
                    seconds_to_publish=100.0),
        SellSession(**common, opened_at=now - timedelta(hours=9), status="published",
                    seconds_to_publish=0.0),  # same second: floored at 1 s
        SellSession(**common, opened_at=now - timedelta(hours=9), status="abandoned"),
        SellSession(**common, opened_at=now - timedelta(seconds=500), status="open"),
        SellSession(**common, opened_at=now - timedelta(seconds=50), status="open"),
    ])  # fmt: skip
    ttp = experiment_results(experiment=experiment, now=now)["arms"][0]["time_to_publish"]
    expected = stats.survival_summary([100, 1, 7200, 500, 50], [True, True, False, False, False])
    assert ttp["curve"] == [list(p) for p in expected.curve]
    assert ttp["curve"][-1][0] == 7200.0  # followed up to the abandonment window
    # KM: 1 of 5 at 1 s; 50 s censored; 1 of 3 at 100 s -> 1 - 4/5 * 2/3 published.
    after_100 = pytest.approx(1 - 0.8 * 2 / 3)
    assert ttp["published_within"] == {"60": pytest.approx(0.2), "120": after_100, "300": after_100}
    assert ttp["median_seconds"] is None  # never reaches half


def test_arms_without_sessions(users):
    experiment = experiment_running(guardrails=guardrails_default())
    results = experiment_results(experiment=experiment)
    json.dumps(results)
    for arm in results["arms"]:
        assert (arm["sessions"], arm["sellers"], arm["runs"]) == (0, 0, 0)
        assert arm["abandonment"] == {"value": None, "n": 0}
        assert arm["time_to_publish"]["median_seconds"] is None
        assert arm["time_to_publish"]["published_within"] == {"60": None, "120": None, "300": None}
        assert arm["cost_per_published_usd"] is None
        assert not any(g["judged"] for g in arm["guardrails"])
    variant = results["arms"][1]
    assert variant["vs_control"]["logrank"]["p_value"] == 1.0
    assert variant["vs_control"]["abandonment"]["p_value"] is None
    assert variant["recommendation"]["action"] == "keep running"
    assert variant["recommendation"]["sessions_still_needed"] == results["sample_size"]["per_arm"]
    assert results["daily"] == []
    assert results["srm"]["total"] == 0
    assert [e["action"] for e in results["events"]] == ["started", "created"]


def test_paused_arm_and_acknowledged_srm_are_reported(users, staff):
    experiment = experiment_running()
    variant = experiment.arms.get(key="variant")
    arm_pause(arm=variant, actor=staff, reason="looked odd")
    srm_acknowledge(experiment=experiment, actor=staff, note="bot traffic, filtered")
    results = experiment_results(experiment=experiment)
    row = results["arms"][1]
    assert (row["status"], row["paused_reason"]) == (Arm.Status.PAUSED, "looked odd")
    assert row["recommendation"]["action"] == "stop"
    assert results["srm"]["acknowledged_at"] == results["experiment"]["srm_acknowledged_at"]
    assert results["events"][0] == {
        "at": results["events"][0]["at"],
        "action": "srm_acknowledged",
        "actor": "sam",
        "arm": None,
        "note": "bot traffic, filtered",
    }


def test_daily_table(generated):
    experiment, data, now = generated
    results = experiment_results(experiment=experiment, now=now)
    daily = results["daily"]
    assert sum(row["sessions"] for row in daily) == sum(a["sessions"] for a in results["arms"])
    for key, d in data.items():
        rows = [row for row in daily if row["arm"] == key]
        assert sum(row["published"] for row in rows) == len(d.published_seconds)
    # Every (local day, arm) median is numpy's median of that day's published seconds. The day
    # is the local one (TIME_ZONE), not the UTC date: they differ for an hour or two.
    seconds: dict[tuple, list[float]] = {}
    for s in SellSession.objects.filter(status="published").select_related("arm"):
        day = timezone.localdate(s.opened_at).isoformat()
        seconds.setdefault((day, s.arm.key), []).append(s.seconds_to_publish)
    assert {(row["day"], row["arm"]) for row in daily if row["published"]} == set(seconds)
    for row in daily:
        expected = seconds.get((row["day"], row["arm"]))
        assert row["median_seconds"] == (pytest.approx(np.median(expected)) if expected else None)


def test_postgresql_aggregates_equal_the_sqlite_path(generated, monkeypatch):
    """percentile_cont (p95 seconds to draft) and array_agg (the published seconds of each day,
    for the daily medians and Kaplan-Meier) give the figures of the SQLite path, which fetches
    rows for numpy: every figure of the results."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: percentile_cont, array_agg (make test and CI use it)")
    experiment, _, now = generated
    in_database = experiment_results(experiment=experiment, now=now)
    monkeypatch.setattr(experiment_results_module, "postgresql_aggregates", lambda: False)
    fetched = experiment_results(experiment=experiment, now=now)
    medians = [row["median_seconds"] for row in fetched["daily"]]
    assert None not in medians and [row["median_seconds"] for row in in_database["daily"]] == (
        pytest.approx(medians, rel=1e-12)
    )
    assert fetched["arms"][0]["p95_seconds_to_draft"] > 0
    _assert_same(in_database, fetched)


def _assert_same(a, b):
    """Equal structures; floats equal up to rounding (interpolation order differs)."""
    if isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        assert a == b


def test_csv_has_a_row_per_arm_then_the_daily_table(generated):
    experiment, _, now = generated
    results = experiment_results(experiment=experiment, now=now)
    text = experiment_results_csv(results)
    arms_part, daily_part = text.split("\r\n\r\n")
    arms = list(csv.DictReader(io.StringIO(arms_part)))
    assert list(arms[0]) == list(CSV_ARM_COLUMNS)
    assert [row["arm"] for row in arms] == ["control", "faster", "off"]
    for row, arm in zip(arms, results["arms"], strict=True):
        assert int(row["sessions"]) == arm["sessions"]
        assert float(row["abandonment"]) == pytest.approx(arm["abandonment"]["value"], rel=1e-5)
    assert arms[0]["hazard_ratio"] == "" and arms[0]["recommendation"] == ""
    assert (
        arms[1]["recommendation"] == "stop" and "failed_or_empty" in arms[1]["guardrails_breached"]
    )
    daily = list(csv.DictReader(io.StringIO(daily_part)))
    assert len(daily) == len(results["daily"])
    assert daily[0]["day"] == results["daily"][0]["day"]


def test_sample_size_from_the_last_28_days(users, settings):
    experiment = experiment_running()
    experiment.started_at = None  # plan as a draft would: up to now
    now = now_fixed()
    rng = np.random.default_rng(3)
    seconds = rng.lognormal(np.log(200), 0.6, size=80)
    rows = [
        SellSession(
            user=users[0],
            opened_at=now - timedelta(days=float(rng.uniform(0, 27))),
            status="published",
            seconds_to_publish=float(s),
        )
        for s in seconds
    ]
    rows += [SellSession(user=users[0], opened_at=now - timedelta(days=5), status="abandoned")
             for _ in range(20)]  # fmt: skip
    rows += [SellSession(user=users[0], opened_at=now - timedelta(days=40), status="published",
                         seconds_to_publish=5000.0) for _ in range(30)]  # fmt: skip
    SellSession.objects.bulk_create(rows)
    plan = experiment_sample_size(experiment=experiment, now=now)
    expected = stats.sessions_needed(mde=0.2, published_seconds=seconds, past_sessions=100)
    assert plan["per_arm"] == expected.per_arm and plan["assumed"] is False
    assert plan["sd_log_seconds"] == pytest.approx(np.std(np.log(seconds), ddof=1))
    assert plan["publish_rate"] == pytest.approx(0.8)
    assert plan["sessions_per_day"] == pytest.approx(100 / 28)
    assert plan["days_to_reach"] == pytest.approx(expected.per_arm * 2 / (100 / 28))
