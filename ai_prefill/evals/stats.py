"""Statistics for eval runs: intervals for one run, paired tests for comparing two runs.

Pure and deterministic (fixed seeds), so the same cases always give the same report.

- `wilson_interval`: a binomial proportion (accuracy of a yes/no field). Wilson keeps good
  coverage at small n and near 0 or 1, where the normal ("Wald") interval collapses or leaves 0..1.
- `bootstrap_mean_ci`: the mean of 0..1 scores, which are not binomial (partial credit), so the
  interval comes from resampling cases (scipy BCa bootstrap).
- `mcnemar_exact`: two variants on the same cases, right/wrong per case. Only the discordant cases
  carry information (b: right -> wrong, c: wrong -> right); the exact binomial test on them is
  valid at any sample size.
- `paired_bootstrap`: two variants on the same cases, 0..1 scores per case; resamples cases (pairs)
  and reports the mean difference, its interval and a two-sided p-value.
- `holm`: many fields are compared at once; Holm's step-down adjustment controls the family-wise
  error rate, uniformly more powerful than Bonferroni and valid under any dependence. It lives in
  the kernel (`marketplace.stats`) because experiments uses it too; re-exported here.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from marketplace.stats import holm

__all__ = [
    "bootstrap_mean_ci",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap",
    "wilson_interval",
]

_BOOTSTRAP_CHUNK = 1000  # resamples per batch, to bound memory on large eval sets


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for successes/n; (0.0, 1.0) when n == 0 (nothing is known)."""
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return 0.0, 1.0
    low, high = proportion_confint(successes, n, alpha=alpha, method="wilson")
    return float(max(0.0, low)), float(min(1.0, high))


def bootstrap_mean_ci(
    values: list[float], alpha: float = 0.05, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(mean, low, high): the mean with a BCa bootstrap confidence interval.

    Degenerate samples get a degenerate interval rather than NaN: no values -> (0, 0, 0); one
    value, or all values equal -> (v, v, v). If BCa cannot be computed (it can fail on very
    lopsided small samples) the percentile interval is used instead.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return 0.0, 0.0, 0.0
    mean = float(data.mean())
    if data.size < 2 or np.all(data == data[0]):
        return mean, mean, mean
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = scipy_stats.bootstrap(
                (data,),
                np.mean,
                n_resamples=n_resamples,
                confidence_level=1 - alpha,
                method=method,
                rng=np.random.default_rng(seed),
            )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return mean, float(min(low, mean)), float(max(high, mean))
    return mean, mean, mean  # pragma: no cover - percentile on finite data is always finite


def mcnemar_exact(before: list[bool], after: list[bool]) -> dict:
    """Exact McNemar test on paired right/wrong outcomes of the same cases.

    Returns {"n", "both_right", "b", "c", "both_wrong", "p_value"}: b counts cases right before
    and wrong after, c wrong before and right after; p is two-sided (binomial on b + c at 1/2),
    1.0 when there are no discordant cases.
    """
    if len(before) != len(after):
        raise ValueError(f"paired lists differ in length: {len(before)} vs {len(after)}")
    pairs = [(bool(x), bool(y)) for x, y in zip(before, after, strict=True)]
    both_right = sum(x and y for x, y in pairs)
    b = sum(x and not y for x, y in pairs)
    c = sum(y and not x for x, y in pairs)
    both_wrong = len(pairs) - both_right - b - c
    if b + c == 0:
        p_value = 1.0
    else:
        table = [[both_right, b], [c, both_wrong]]
        p_value = float(min(1.0, mcnemar(table, exact=True).pvalue))
    return {
        "n": len(pairs),
        "both_right": both_right,
        "b": b,
        "c": c,
        "both_wrong": both_wrong,
        "p_value": p_value,
    }


def paired_bootstrap(
    before: list[float],
    after: list[float],
    n_resamples: int = 5000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict:
    """Paired bootstrap of the mean difference (after - before) over the same cases.

    Resamples cases with replacement (keeping each case's pair together) `n_resamples` times.
    The interval is the percentile interval of the resampled mean differences. The two-sided
    p-value tests "mean difference = 0" by shifting that distribution to mean zero (the null
    imposed, Efron & Tibshirani ch. 16) and counting resamples at least as far from zero as the
    observed difference: p = (1 + #{|m* - m| >= |m|}) / (1 + n_resamples), never exactly 0.
    With fewer than two cases there is no spread to resample: the interval is the observed
    difference and p = 1.0.

    Returns {"n", "mean_diff", "ci_low", "ci_high", "p_value"}.
    """
    if len(before) != len(after):
        raise ValueError(f"paired lists differ in length: {len(before)} vs {len(after)}")
    diffs = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    n = diffs.size
    if n == 0:
        return {"n": 0, "mean_diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0}
    mean_diff = float(diffs.mean())
    if n < 2:
        return {
            "n": n,
            "mean_diff": mean_diff,
            "ci_low": mean_diff,
            "ci_high": mean_diff,
            "p_value": 1.0,
        }
    rng = np.random.default_rng(seed)
    boot = np.empty(n_resamples)
    for start in range(0, n_resamples, _BOOTSTRAP_CHUNK):
        stop = min(start + _BOOTSTRAP_CHUNK, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        boot[start:stop] = diffs[idx].mean(axis=1)
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    extreme = np.count_nonzero(np.abs(boot - mean_diff) >= abs(mean_diff) - 1e-12)
    p_value = (1 + extreme) / (1 + n_resamples)
    return {
        "n": n,
        "mean_diff": mean_diff,
        "ci_low": float(min(low, mean_diff)),
        "ci_high": float(max(high, mean_diff)),
        "p_value": float(min(1.0, p_value)),
    }
