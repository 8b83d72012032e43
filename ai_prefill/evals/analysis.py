"""Aggregates of one eval run, and its comparison with a baseline run on the same items."""

import statistics
from collections import Counter, defaultdict

from .changes import FIX, REGRESSION, correct_by_field, item_change
from .scoring import FIELDS, confusion_matrix
from .stats import bootstrap_mean_ci, holm, mcnemar_exact, paired_bootstrap, wilson_interval

# Fields judged right/wrong (McNemar) versus on a graded score (paired bootstrap).
GRADED_FIELDS = ("title", "description")


def metrics_build(results) -> dict:
    """Per-field scores with intervals, all-correct rate, slices by tag, failures, cost, latency."""
    results = list(results)
    n = len(results)
    metrics = {
        "n": n,
        "fields": {name: _field_metrics(results, name) for name in FIELDS},
        "all_correct": _rate(sum(r.all_correct for r in results), n),
        "condition_within_one": _rate(
            sum(r.scores["_case"]["condition_within_one"] for r in results), n
        ),
        "invented_brand": _rate(sum(r.scores["_case"]["invented_brand"] for r in results), n),
        "failures": {
            "count": sum(1 for r in results if r.error_type),
            "by_type": dict(Counter(r.error_type for r in results if r.error_type)),
        },
        "category_confusion": confusion_matrix(
            [(r.expected["category"], (r.output or {}).get("category")) for r in results]
        ),
        "slices": _slices(results),
        "cost_usd": _cost(results),
        "latency_ms": _latency(results),
        "cached": sum(r.cached for r in results),
    }
    return metrics


def _field_metrics(results, name: str) -> dict:
    scores = [r.scores[name]["score"] for r in results]
    correct = sum(r.scores[name]["correct"] for r in results)
    mean, low, high = bootstrap_mean_ci(scores)
    accuracy = _rate(correct, len(results))
    return {
        "score": mean,
        "ci": [low, high],
        "accuracy": accuracy["rate"],
        "accuracy_ci": accuracy["ci"],
    }


def _rate(successes: int, n: int) -> dict:
    low, high = wilson_interval(successes, n)
    return {"count": successes, "n": n, "rate": successes / n if n else 0.0, "ci": [low, high]}


def _slices(results) -> dict:
    by_tag = defaultdict(list)
    for result in results:
        for tag in result.case.tags:
            by_tag[tag].append(result)
    return {
        tag: {
            "n": len(group),
            "all_correct": sum(r.all_correct for r in group) / len(group),
            "fields": {
                name: statistics.fmean(r.scores[name]["score"] for r in group) for name in FIELDS
            },
        }
        for tag, group in sorted(by_tag.items())
    }


def _cost(results) -> dict:
    costs = [float(r.cost_usd) for r in results if r.cost_usd is not None]
    total = sum(costs)
    return {
        "total": total,
        "per_case": total / len(results) if results else 0.0,
        "priced": len(costs),
    }


def _latency(results) -> dict:
    values = sorted(r.latency_ms for r in results if r.latency_ms is not None and not r.cached)
    if not values:
        return {"n": 0, "p50": None, "p95": None, "mean": None}
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return {
        "n": len(values),
        "p50": statistics.median(values),
        "p95": p95,
        "mean": statistics.fmean(values),
    }


def comparison_build(
    *, results, baseline_results, baseline_run_id: int, alpha: float, min_effect: float
) -> dict:
    """Paired tests per field on the items both runs share (same case content, same repeat)."""
    mine = {(r.case_hash, r.repeat): r for r in results}
    theirs = {(r.case_hash, r.repeat): r for r in baseline_results}
    shared = sorted(set(mine) & set(theirs))
    pairs = [(theirs[k], mine[k]) for k in shared]
    tests = {name: _field_test(pairs, name) for name in FIELDS}
    adjusted = holm({name: test["p"] for name, test in tests.items()})
    for name, test in tests.items():
        test["p_holm"] = adjusted[name]
        significant = test["p_holm"] < alpha
        test["significant_regression"] = significant and test["delta"] <= -min_effect
        test["significant_improvement"] = significant and test["delta"] >= min_effect
    return {
        "baseline_run": baseline_run_id,
        "n_paired": len(pairs),
        "alpha": alpha,
        "min_effect": min_effect,
        "fields": tests,
        # Cases (any repeat) that are a regression / a fix by the one definition (changes.py).
        "newly_failing": _cases_that(REGRESSION, pairs),
        "newly_fixed": _cases_that(FIX, pairs),
    }


def _cases_that(change: str, pairs) -> list[str]:
    return sorted(
        {
            new.case.key
            for old, new in pairs
            if item_change(before=correct_by_field(old.scores), after=correct_by_field(new.scores))
            == change
        }
    )


def _field_test(pairs, name: str) -> dict:
    before = [old.scores[name] for old, _ in pairs]
    after = [new.scores[name] for _, new in pairs]
    if name in GRADED_FIELDS:
        test = paired_bootstrap([s["score"] for s in before], [s["score"] for s in after])
        return {
            "test": "paired_bootstrap",
            "delta": test["mean_diff"],
            "p": test["p_value"],
            "ci": [test["ci_low"], test["ci_high"]],
        }
    test = mcnemar_exact([s["correct"] for s in before], [s["correct"] for s in after])
    delta = (test["c"] - test["b"]) / len(pairs) if pairs else 0.0
    return {
        "test": "mcnemar_exact",
        "delta": delta,
        "p": test["p_value"],
        "right_to_wrong": test["b"],
        "wrong_to_right": test["c"],
    }
