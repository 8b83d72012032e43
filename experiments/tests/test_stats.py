"""experiments.stats against statsmodels / scipy computed independently here, and hand values."""

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff
from statsmodels.stats import proportion
from statsmodels.stats.power import NormalIndPower

from experiments import stats
from experiments.simulation import ArmBehaviour, session_outcomes

# Six sessions, four published. KM by hand: S(1) = 5/6, S(2) = 4/6, (3 censored),
# S(4) = 4/6 * 2/3 = 4/9, (5 censored), S(6) = 0.
TIMES = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
PUBLISHED = np.array([True, True, False, True, False, True])


def _json(result) -> str:
    # Strict JSON: a NaN or inf anywhere would raise.
    return json.dumps(dataclasses.asdict(result), allow_nan=False)


# --- survival_summary -------------------------------------------------------------------------


def test_survival_summary_hand_computed_kaplan_meier():
    summary = stats.survival_summary(TIMES, PUBLISHED, within=(1, 3, 4, 10))
    assert (summary.sessions, summary.published) == (6, 4)
    assert summary.published_within == pytest.approx({1: 1 / 6, 3: 2 / 6, 4: 5 / 9, 10: 1.0})
    assert summary.median_seconds == 4.0  # first time S < 0.5
    times, shares = zip(*summary.curve, strict=True)
    assert times == (0, 1, 2, 4, 6)
    assert shares == pytest.approx((0, 1 / 6, 2 / 6, 5 / 9, 1))


def test_survival_summary_median_and_ci_equal_statsmodels():
    rng = np.random.default_rng(3)
    durations, published = session_outcomes(ArmBehaviour(), 300, rng, observe_seconds=3600)
    reference = SurvfuncRight(durations, published.astype(float))
    summary = stats.survival_summary(durations, published)
    assert summary.median_seconds == pytest.approx(reference.quantile(0.5))
    assert summary.median_ci == pytest.approx(reference.quantile_ci(0.5))
    assert summary.published_within[300] == pytest.approx(
        1 - reference.surv_prob[reference.surv_times <= 300][-1]
    )
    assert len(summary.curve) <= stats.CURVE_POINTS
    assert summary.curve[0] == (0.0, 0.0)
    assert summary.curve[-1] == (pytest.approx(3600.0), pytest.approx(1 - reference.surv_prob[-1]))
    _json(summary)


def test_survival_summary_empty_and_all_censored():
    empty = stats.survival_summary([], [])
    assert empty == stats.SurvivalSummary(0, 0, None, (None, None), {}, [])
    censored = stats.survival_summary([10.0, 20.0, 30.0], [False, False, False])
    assert censored.median_seconds is None and censored.median_ci == (None, None)
    assert censored.published_within == {60: 0.0, 120: 0.0, 300: 0.0}
    assert censored.curve == [(0.0, 0.0), (30.0, 0.0)]
    _json(censored)


def test_survival_summary_upper_limit_unknown_is_none():
    # The curve crosses 0.5 but never goes far enough below it to bound the median from above.
    summary = stats.survival_summary(TIMES[:4], [True, True, True, False])
    assert summary.median_seconds == 3.0  # S(2) = 1/2 is not below 1/2 (statsmodels, as SAS)
    assert summary.median_ci[1] is None
    _json(summary)


def test_survival_summary_rejects_bad_input():
    with pytest.raises(ValueError):
        stats.survival_summary([0.0, 1.0], [True, True])
    with pytest.raises(ValueError):
        stats.survival_summary([1.0], [True, False])


# --- logrank ----------------------------------------------------------------------------------


def test_logrank_hand_computed_score():
    # control publishes at 1 and 2, the arm at 3 and 4. Arm expected publishes: 2/4 at t=1,
    # 2/3 at t=2, 1 at t=3 (t=4 has one at risk: no information). U = -7/6.
    # V = 1·(2/4)(2/4) + 1·(1/3)(2/3) = 1/4 + 2/9 (t=3: all at risk are the arm's, so 0).
    result = stats.logrank([1.0, 2.0], [True, True], [3.0, 4.0], [True, True])
    u, v = -7 / 6, 1 / 4 + 2 / 9
    assert result.observed_minus_expected == pytest.approx(u)
    assert result.variance == pytest.approx(v)
    assert result.chisq == pytest.approx(u * u / v)
    assert result.hazard_ratio == pytest.approx(math.exp(u / v))
    assert result.hazard_ratio < 1  # the arm is slower


def test_logrank_equals_public_survdiff():
    # Guards the use of statsmodels' private _survdiff: U²/V must stay the public chisq.
    rng = np.random.default_rng(7)
    control = session_outcomes(ArmBehaviour(), 400, rng, observe_seconds=3600)
    arm = session_outcomes(ArmBehaviour(speedup=0.3), 350, rng, observe_seconds=3600)
    result = stats.logrank(*control, *arm)
    chisq, p_value = survdiff(
        np.concatenate((control[0], arm[0])),
        np.concatenate((control[1], arm[1])).astype(float),
        np.concatenate((np.zeros(400), np.ones(350))),
    )
    assert result.chisq == pytest.approx(chisq, rel=1e-10)
    assert result.p_value == pytest.approx(p_value, rel=1e-8)
    assert result.hazard_ratio > 1  # the arm is faster
    _json(result)


@pytest.mark.parametrize(
    "control, arm",
    [
        (([], []), ([5.0, 6.0], [True, True])),  # one arm empty
        (([5.0, 6.0], [True, True]), ([], [])),
        (([5.0, 6.0], [False, False]), ([7.0], [False])),  # nobody published
    ],
)
def test_logrank_without_information(control, arm):
    result = stats.logrank(*control, *arm)
    assert (result.chisq, result.p_value, result.hazard_ratio) == (0.0, 1.0, None)
    _json(result)


# --- msprt ------------------------------------------------------------------------------------


def test_msprt_worked_number():
    # U = 10, V = 50, tau = 0.2: tau²V = 2, Lambda = sqrt(1/3) · exp(0.04 · 100 / (2 · 3)).
    result = stats.msprt(10.0, 50.0, 0.2)
    expected = math.sqrt(1 / 3) * math.exp(0.04 * 100 / 6)
    assert result.statistic == pytest.approx(expected)
    assert result.statistic == pytest.approx(1.12452, abs=1e-5)
    assert result.p_value == pytest.approx(1 / expected)
    assert stats.msprt(0.0, 50.0, 0.2).p_value == 1.0  # no effect: Lambda < 1


def test_msprt_huge_score_does_not_overflow():
    result = stats.msprt(1e6, 1e6, 0.5)
    assert math.isfinite(result.statistic) and 0 < result.p_value < 1e-300
    _json(result)


def test_msprt_is_more_conservative_than_the_fixed_horizon_p():
    rng = np.random.default_rng(11)
    control = session_outcomes(ArmBehaviour(), 800, rng, observe_seconds=3600)
    arm = session_outcomes(ArmBehaviour(speedup=0.2), 800, rng, observe_seconds=3600)
    fixed = stats.logrank(*control, *arm)
    always = stats.msprt(fixed.observed_minus_expected, fixed.variance, math.log(1 / 0.8))
    assert fixed.p_value < 0.05
    assert always.p_value > fixed.p_value


def test_msprt_for_proportions_is_msprt_on_the_difference():
    p0, p1 = 30 / 200, 45 / 210
    variance = p0 * (1 - p0) / 200 + p1 * (1 - p1) / 210
    expected = stats.msprt((p1 - p0) / variance, 1 / variance, 0.05)
    assert stats.msprt_for_proportions(30, 200, 45, 210, 0.05) == expected


def test_msprt_for_proportions_degenerate():
    assert stats.msprt_for_proportions(0, 0, 3, 10, 0.1).p_value == 1.0
    assert stats.msprt_for_proportions(0, 50, 0, 50, 0.1).p_value == 1.0
    assert stats.msprt_for_proportions(50, 50, 50, 50, 0.1).p_value == 1.0
    # 0/n vs n/n: the plug-in variance is 0, the pooled one is not; a clear difference.
    assert stats.msprt_for_proportions(0, 50, 50, 50, 0.5).p_value < 1e-6


# --- proportion_diff --------------------------------------------------------------------------


def test_proportion_diff_equals_statsmodels():
    result = stats.proportion_diff(30, 200, 45, 210)
    # Imported through the module: pytest would collect a bare test_proportions_2indep.
    low, high = proportion.confint_proportions_2indep(
        45, 210, 30, 200, compare="diff", method="agresti-caffo"
    )
    test = proportion.test_proportions_2indep(
        45, 210, 30, 200, compare="diff", method="agresti-caffo"
    )
    assert result.difference == pytest.approx(45 / 210 - 30 / 200)
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high))
    assert result.p_value == pytest.approx(test.pvalue)
    _json(result)


def test_proportion_diff_edges():
    assert stats.proportion_diff(0, 0, 3, 10) == stats.ProportionDiff(*[None] * 6)
    assert stats.proportion_diff(3, 10, 0, 0).p_value is None
    for counts in [(0, 50, 0, 50), (50, 50, 50, 50), (0, 50, 5, 50), (50, 50, 0, 50)]:
        result = stats.proportion_diff(*counts)
        assert -1 <= result.ci_low <= result.difference <= result.ci_high <= 1
        _json(result)
    assert stats.proportion_diff(0, 50, 0, 50).p_value == pytest.approx(1.0)
    assert stats.proportion_diff(0, 50, 50, 50).p_value < 1e-10


# --- Holm, SRM --------------------------------------------------------------------------------


def test_holm_adjust():
    # sorted: 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.04, 0.06) = 0.06
    result = stats.holm_adjust([0.01, 0.04, 0.03])
    assert [reject for reject, _ in result] == [True, False, False]
    assert [p for _, p in result] == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm_adjust([]) == []


def test_sample_ratio_check_equals_scipy_chisquare():
    result = stats.sample_ratio_check([520, 480, 1000], [1, 1, 2])
    chisq, p_value = scipy_stats.chisquare([520, 480, 1000], [500, 500, 1000])
    assert (result.chisq, result.p_value) == pytest.approx((chisq, p_value))
    assert result.checked and not result.mismatch
    assert stats.sample_ratio_check([600, 400], [0.5, 0.5]).mismatch  # p ≈ 2.5e-10


def test_sample_ratio_check_edges():
    small = stats.sample_ratio_check([60, 10], [0.5, 0.5])
    assert small.p_value < 0.001 and not small.checked and not small.mismatch
    assert stats.sample_ratio_check([0, 0], [0.5, 0.5]) == stats.SampleRatio(
        0, None, None, False, False
    )
    with pytest.raises(ValueError):
        stats.sample_ratio_check([10, 10], [1.0, 0.0])


# --- Planning ---------------------------------------------------------------------------------


def test_sessions_needed_from_history_equals_normal_ind_power():
    rng = np.random.default_rng(5)
    seconds = rng.lognormal(math.log(240), 0.6, size=400)
    plan = stats.sessions_needed(mde=0.2, published_seconds=seconds, past_sessions=500)
    sd = np.std(np.log(seconds), ddof=1)
    assert not plan.assumed
    assert (plan.publish_rate, plan.sd_log_seconds) == pytest.approx((0.8, sd))
    assert plan.effect_size == pytest.approx(math.log(1 / 0.8) / sd)
    expected = NormalIndPower().solve_power(
        effect_size=plan.logrank_effect_size, alpha=0.05, power=0.8, ratio=1.0
    )
    assert plan.per_arm == math.ceil(expected)
    _json(plan)


def test_sessions_needed_logrank_efficiency_without_abandonment_is_pitman():
    # Everyone publishes: the log-rank's efficiency against the t-test for normal log-times is
    # the Pitman ARE of Savage scores, (∫ (-1 - log(1-u)) Φ⁻¹(u) du)² ≈ 0.816.
    savage, _ = integrate.quad(lambda u: (-1 - np.log1p(-u)) * scipy_stats.norm.ppf(u), 0, 1)
    plan = stats.sessions_needed(mde=0.2, published_seconds=np.arange(1, 101), past_sessions=100)
    assert plan.publish_rate == 1.0
    assert (plan.logrank_effect_size / plan.effect_size) ** 2 == pytest.approx(savage**2, rel=1e-4)


def test_sessions_needed_defaults_with_little_history():
    plan = stats.sessions_needed(mde=0.2, published_seconds=[100, 200], past_sessions=3)
    assert plan.assumed
    assert (plan.publish_rate, plan.sd_log_seconds) == (0.85, 0.8)
    smaller_effect = stats.sessions_needed(mde=0.1, published_seconds=[], past_sessions=0)
    assert smaller_effect.per_arm > plan.per_arm
    with pytest.raises(ValueError):
        stats.sessions_needed(mde=1.2, published_seconds=[], past_sessions=0)


def test_days_to_reach_and_percentile():
    assert stats.days_to_reach(1000, 2, 500, 0.5) == 8.0
    assert stats.days_to_reach(1000, 2, 0, 0.5) is None
    assert stats.days_to_reach(1000, 2, 500, 0.0) is None
    assert stats.percentile([1, 2, 3, 4], 50) == pytest.approx(np.percentile([1, 2, 3, 4], 50))
    assert stats.percentile([], 90) is None
