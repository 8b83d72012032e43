"""Statistics of an experiment on plain numpy arrays: no models, no database, no AI.

What each figure means, the formulas and their sources: docs/experiments-statistics.md.

- `survival_summary`: time from opening the Sell form to publishing, as a Kaplan-Meier curve.
  Sessions that did not publish are censored (abandoned ones at the abandonment window, still
  open ones at their age), so they count as "not yet" instead of being dropped or counted as 0.
- `logrank`: fixed-horizon log-rank test of an arm against control, with its score U (publishes
  observed minus expected in the arm) and information V, which feed the sequential test.
- `msprt`: the normal-mixture sequential probability ratio test (always-valid p-value), safe to
  read at every peek. `msprt_for_proportions` is the same test on a difference of proportions.
- `proportion_diff`: a difference of two proportions (abandonment) with its interval and test.
- `holm_adjust`: Holm over the arms (the kernel's `marketplace.stats.holm`).
- `sample_ratio_check`: chi-square of assignment counts against the configured weights (SRM).
- `sessions_needed` / `days_to_reach`: planned sample size and how long traffic takes to reach it.

Every float returned is a plain Python float and undefined values are None (never NaN), so
`dataclasses.asdict` of a result goes straight to JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate
from scipy import stats as scipy_stats
from statsmodels.duration.survfunc import SurvfuncRight, _survdiff
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep

from marketplace.stats import holm

CURVE_POINTS = 200  # enough for a chart, small enough to ship in JSON
_MAX_LOG = 709.0  # exp(709) is near the largest float; beyond it Lambda would be inf

# Sample-size defaults when there is too little history (fewer than `min_history` publishes):
# a lognormal spread of 0.8 on log seconds (the 90th percentile is ~2.8x the median) and 85% of
# sessions publishing. They only size the first run; history replaces them as soon as it exists.
DEFAULT_SD_LOG_SECONDS = 0.8
DEFAULT_PUBLISH_RATE = 0.85


def _float_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _as_survival_arrays(durations, published) -> tuple[np.ndarray, np.ndarray]:
    times = np.asarray(durations, dtype=float).reshape(-1)
    events = np.asarray(published, dtype=bool).reshape(-1)
    if times.shape != events.shape:
        raise ValueError(f"durations and published differ in length: {times.size} vs {events.size}")
    if times.size and not (np.all(np.isfinite(times)) and times.min() > 0):
        raise ValueError("durations must be finite seconds > 0")
    return times, events


# --- Time to publish --------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalSummary:
    sessions: int
    published: int
    median_seconds: float | None  # None if the KM curve never drops below 0.5
    median_ci: tuple[float | None, float | None]  # 95%; None where the data cannot bound it
    published_within: dict[int, float]  # {seconds: 1 - S(seconds)}; {} without sessions
    curve: list[tuple[float, float]]  # (seconds, share published) steps, from (0, 0)


def survival_summary(durations, published, within=(60, 120, 300)) -> SurvivalSummary:
    """Kaplan-Meier summary of time to publish (statsmodels SurvfuncRight).

    `published` True is the event; False is censored at its duration. The median and its
    interval (statsmodels quantile_ci, cloglog, which inverts a test at each observed time as SAS
    LIFETEST does) are None when the curve or the interval never crosses 0.5.
    """
    times, events = _as_survival_arrays(durations, published)
    if times.size == 0:
        return SurvivalSummary(0, 0, None, (None, None), {}, [])
    km = SurvfuncRight(times, events.astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) at S = 0 is "outside the CI"
        low, high = km.quantile_ci(0.5)
    share = 1.0 - km.surv_prob
    within_share = {int(t): _share_published_at(km.surv_times, share, t) for t in within}
    return SurvivalSummary(
        sessions=int(times.size),
        published=int(events.sum()),
        median_seconds=_float_or_none(km.quantile(0.5)),
        median_ci=(_float_or_none(low), _float_or_none(high)),
        published_within=within_share,
        curve=_curve(km.surv_times, share, float(times.max())),
    )


def _share_published_at(event_times: np.ndarray, share: np.ndarray, t: float) -> float:
    # KM is a right-continuous step function: its value at t is the one at the last event <= t.
    i = int(np.searchsorted(event_times, t, side="right")) - 1
    return float(share[i]) if i >= 0 else 0.0


def _curve(event_times, share, last_seen: float) -> list[tuple[float, float]]:
    times = np.concatenate(([0.0], event_times))
    values = np.concatenate(([0.0], share))
    if times.size > CURVE_POINTS - 1:
        # Evenly spaced steps, always keeping the first and the last (the final share published).
        keep = np.unique(np.linspace(0, times.size - 1, CURVE_POINTS - 1).round().astype(int))
        times, values = times[keep], values[keep]
    points = [(float(t), float(v)) for t, v in zip(times, values, strict=True)]
    if last_seen > points[-1][0]:
        # The curve is known up to the last follow-up, not only to the last publish.
        points.append((last_seen, points[-1][1]))
    return points


# --- Log-rank ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogRank:
    chisq: float
    p_value: float  # fixed-horizon, two-sided
    observed_minus_expected: float  # U: publishes in the arm minus expected under H0
    variance: float  # V: the variance of U (the information)
    hazard_ratio: float | None  # exp(U/V); > 1 = the arm publishes faster than control


def logrank(control_durations, control_published, arm_durations, arm_published) -> LogRank:
    """Log-rank test of arm vs control, with its score U and information V.

    statsmodels' public `survdiff` returns only (chisq, p). The sequential test needs U and V,
    which its private `_survdiff` returns; tests/test_stats.py checks that U²/V equals the public
    chisq, so a statsmodels change to the private function fails loudly instead of silently.
    exp(U/V) is the one-step (Peto) estimate of the hazard ratio. With no publish at all or an
    empty arm there is no information: chisq 0, p 1, hazard ratio None.
    """
    t0, e0 = _as_survival_arrays(control_durations, control_published)
    t1, e1 = _as_survival_arrays(arm_durations, arm_published)
    if t0.size == 0 or t1.size == 0 or not (e0.any() or e1.any()):
        return LogRank(0.0, 1.0, 0.0, 0.0, None)
    time = np.concatenate((t0, t1))
    status = np.concatenate((e0, e1)).astype(float)
    group = np.concatenate((np.zeros(t0.size), np.ones(t1.size)))
    # Groups sorted (0, 1): the first is the reference, so the score returned is the arm's.
    obs, var = _survdiff(time, status, group, None, np.array([0.0, 1.0]))
    u, v = float(obs[0]), float(var[0, 0])
    if v <= 0:
        return LogRank(0.0, 1.0, u, 0.0, None)
    chisq = u * u / v
    return LogRank(
        chisq=chisq,
        p_value=float(scipy_stats.chi2.sf(chisq, 1)),
        observed_minus_expected=u,
        variance=v,
        hazard_ratio=_float_or_none(math.exp(min(u / v, _MAX_LOG))),
    )


# --- Always-valid (sequential) test ---------------------------------------------------------------


@dataclass(frozen=True)
class AlwaysValid:
    statistic: float  # the mixture likelihood ratio Lambda (capped at exp(709))
    p_value: float  # always-valid p = min(1, 1/Lambda)
    tau: float


def msprt(score: float, information: float, tau: float) -> AlwaysValid:
    """Normal-mixture mSPRT for a score U with variance V (Robbins 1970; Johari et al. 2017).

    Lambda = sqrt(1/(1 + tau²V)) · exp(tau²U² / (2(1 + tau²V))). Under H0, U is a martingale
    in information time, so Lambda is a nonnegative supermartingale with mean 1 and, by Ville's
    inequality, P(Lambda ever >= 1/alpha) <= alpha: the p-value is valid at every peek.
    Computed in log space so large U or V cannot overflow. tau is the log-hazard-ratio effect the
    test is tuned to (docs/experiments-statistics.md).
    """
    if tau <= 0 or information < 0:
        raise ValueError(f"need tau > 0 and information >= 0, got tau={tau}, V={information}")
    spread = tau * tau * information
    log_lambda = -0.5 * math.log1p(spread) + tau * tau * score * score / (2.0 * (1.0 + spread))
    log_lambda = min(log_lambda, _MAX_LOG)
    return AlwaysValid(
        statistic=math.exp(log_lambda),
        p_value=min(1.0, math.exp(-log_lambda)),
        tau=float(tau),
    )


def msprt_for_proportions(
    successes_control: int, n_control: int, successes_arm: int, n_arm: int, tau: float
) -> AlwaysValid:
    """mSPRT on the difference of two proportions (arm - control), tau on that scale.

    The difference d has plug-in variance s² = p₁(1-p₁)/n₁ + p₀(1-p₀)/n₀; as a Gaussian score
    that is U = d/s², V = 1/s² (Johari et al. 2017, section 4, treat it the same way). When the
    plug-in is 0 (0/n or n/n on both sides) the pooled variance is used; when that is 0 too, or a
    side has no sessions, there is no evidence (Lambda = 1, p = 1).
    """
    if n_control <= 0 or n_arm <= 0:
        return AlwaysValid(1.0, 1.0, float(tau))
    p0, p1 = successes_control / n_control, successes_arm / n_arm
    variance = p1 * (1 - p1) / n_arm + p0 * (1 - p0) / n_control
    if variance <= 0:
        pooled = (successes_control + successes_arm) / (n_control + n_arm)
        variance = pooled * (1 - pooled) * (1 / n_arm + 1 / n_control)
    if variance <= 0:
        return AlwaysValid(1.0, 1.0, float(tau))
    return msprt((p1 - p0) / variance, 1.0 / variance, tau)


# --- Proportions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProportionDiff:
    control: float | None
    arm: float | None
    difference: float | None  # arm - control
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # two-sided


def proportion_diff(
    successes_control: int, n_control: int, successes_arm: int, n_arm: int, alpha: float = 0.05
) -> ProportionDiff:
    """Difference of proportions with interval and test (statsmodels, Agresti-Caffo).

    Agresti-Caffo adds one success and one failure to each side before the Wald formula, so 0/n
    and n/n give a finite interval and p (Agresti & Caffo 2000), and the interval and the test
    agree (0 is outside the 1 - alpha interval exactly when p < alpha).
    """
    if n_control <= 0 or n_arm <= 0:
        return ProportionDiff(None, None, None, None, None, None)
    control, arm = successes_control / n_control, successes_arm / n_arm
    counts = {"count1": successes_arm, "nobs1": n_arm, "count2": successes_control}
    with np.errstate(divide="ignore", invalid="ignore"):  # unused raw-count terms at 0/n
        low, high = confint_proportions_2indep(
            **counts, nobs2=n_control, compare="diff", method="agresti-caffo", alpha=alpha
        )
        test = test_proportions_2indep(
            **counts, nobs2=n_control, compare="diff", method="agresti-caffo"
        )
    return ProportionDiff(
        control=float(control),
        arm=float(arm),
        difference=float(arm - control),
        ci_low=_float_or_none(max(-1.0, low)),
        ci_high=_float_or_none(min(1.0, high)),
        p_value=_float_or_none(test.pvalue),
    )


def holm_adjust(p_values: list[float], alpha: float = 0.05) -> list[tuple[bool, float]]:
    """(reject, Holm-adjusted p) per p-value, in order. Reject when adjusted p <= alpha, which is
    Holm's step-down rule (statsmodels multipletests rejects on the same condition)."""
    adjusted = holm({str(i): float(p) for i, p in enumerate(p_values)})
    return [(adjusted[str(i)] <= alpha, adjusted[str(i)]) for i in range(len(p_values))]


# --- Sample ratio mismatch --------------------------------------------------------------------


@dataclass(frozen=True)
class SampleRatio:
    total: int
    chisq: float | None
    p_value: float | None
    checked: bool  # total >= min_total
    mismatch: bool  # checked and p < threshold


def sample_ratio_check(
    counts: list[int], weights: list[float], min_total: int = 100, threshold: float = 0.001
) -> SampleRatio:
    """Chi-square of assignment counts against the configured weights (scipy chisquare).

    Alarm only from `min_total` units and at p < 0.001 (PostHog, GrowthBook): the check runs at
    every page view, so a lax threshold would cry wolf. Weights must be > 0: pass only the arms
    that receive traffic.
    """
    observed = np.asarray(counts, dtype=float)
    shares = np.asarray(weights, dtype=float)
    if observed.shape != shares.shape or np.any(shares <= 0) or np.any(observed < 0):
        raise ValueError("need one count >= 0 and one weight > 0 per arm")
    total = int(observed.sum())
    if observed.size < 2 or total == 0:
        return SampleRatio(total, None, None, False, False)
    expected = total * shares / shares.sum()
    chisq, p_value = scipy_stats.chisquare(observed, expected)
    checked = total >= min_total
    return SampleRatio(
        total=total,
        chisq=float(chisq),
        p_value=float(p_value),
        checked=checked,
        mismatch=bool(checked and p_value < threshold),
    )


# --- Planning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleSize:
    per_arm: int  # sessions per arm (the control's when ratio != 1)
    assumed: bool  # True when there was too little history and the defaults were used
    publish_rate: float
    sd_log_seconds: float
    effect_size: float  # Cohen's d on log seconds: |log(1 - mde)| / sd
    logrank_effect_size: float  # what the log-rank sees of it (see _logrank_effect_size)


def sessions_needed(
    *,
    mde: float,
    published_seconds,
    past_sessions: int,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    min_history: int = 30,
) -> SampleSize:
    """Sessions per arm for the log-rank test to detect "mde faster" (0.2 = time x 0.8).

    d = |log(1 - mde)| / sd(log seconds), turned into the log-rank's effect size for lognormal
    times with a share that never publishes, then statsmodels NormalIndPower (two-sided z-test,
    which is what the log-rank is asymptotically) gives the sessions per arm.
    """
    if not 0 < mde < 1:
        raise ValueError(f"mde is a share faster, 0 < mde < 1, got {mde}")
    seconds = np.asarray(published_seconds, dtype=float)
    seconds = seconds[np.isfinite(seconds) & (seconds > 0)]
    sd = float(np.std(np.log(seconds), ddof=1)) if seconds.size >= 2 else 0.0
    assumed = seconds.size < min_history or past_sessions <= 0 or sd <= 0
    if assumed:
        sd, rate = DEFAULT_SD_LOG_SECONDS, DEFAULT_PUBLISH_RATE
    else:
        rate = min(1.0, seconds.size / past_sessions)
    effect = abs(math.log(1 - mde)) / sd
    logrank_effect = _logrank_effect_size(effect, rate)
    per_arm = NormalIndPower().solve_power(
        effect_size=logrank_effect, alpha=alpha, power=power, ratio=ratio, alternative="two-sided"
    )
    return SampleSize(math.ceil(float(per_arm)), assumed, float(rate), sd, effect, logrank_effect)


def _logrank_effect_size(effect: float, publish_rate: float) -> float:
    """The standardised drift of the log-rank score per sqrt(n/2) sessions, for a shift `effect`
    (in sd units) of lognormal log-times when a share 1 - publish_rate never publishes.

    A plain t-test on log seconds of the publishers would see effect * sqrt(publish_rate). The
    log-rank sees less: its local drift is effect * q^(3/2) * ∫ φ(u)² / (1 - q Φ(u)) du with
    q = publish_rate (derivation in docs/experiments-statistics.md). With q = 1 that is the
    Pitman efficiency 0.816 of the log-rank against the t-test for normal errors; with 15% who
    never publish, both arms end on the same plateau, the late hazards cross and the log-rank
    needs ~4.3x the sessions the t-test would. tests/test_statistical_validity.py checks the
    resulting plan gives 80% power in simulation.
    """
    q = publish_rate
    # log space: Φ(-u) underflows for large u while φ(u)² / Φ(-u) stays finite.
    log_abandon = math.log1p(-q) if q < 1 else -math.inf

    def integrand(u: float) -> float:
        log_at_risk = np.logaddexp(log_abandon, math.log(q) + scipy_stats.norm.logsf(u))
        return math.exp(2 * scipy_stats.norm.logpdf(u) - log_at_risk)

    drift, _ = integrate.quad(integrand, -np.inf, np.inf)
    return effect * q**1.5 * drift


def days_to_reach(
    per_arm: int, arms: int, sessions_per_day: float, enrollment: float
) -> float | None:
    """Days until every arm has `per_arm` sessions, at the enrolled share of daily traffic with
    an even split; None when no traffic is enrolled (it never gets there)."""
    daily = sessions_per_day * enrollment
    if arms <= 0 or daily <= 0:
        return None
    return float(per_arm * arms / daily)


def percentile(values, q) -> float | None:
    """The q-th percentile (0..100, numpy's linear interpolation); None when there are no values."""
    data = np.asarray(values, dtype=float).reshape(-1)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return None
    return float(np.percentile(data, q))
