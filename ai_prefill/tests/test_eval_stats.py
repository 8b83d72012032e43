"""Eval statistics against hand-computed values (pure functions, no database)."""

import math
import warnings

import pytest

from ai_prefill.evals.stats import (
    bootstrap_mean_ci,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    wilson_interval,
)

# --- Wilson ----------------------------------------------------------------------------------


def test_wilson_8_of_10():
    # p = 0.8, z = 1.96: (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == pytest.approx(1.0, abs=1e-12)
    assert 0.0 <= low <= high <= 1.0


def test_wilson_alpha_widens_interval():
    narrow = wilson_interval(8, 10, alpha=0.10)
    wide = wilson_interval(8, 10, alpha=0.01)
    assert wide[0] < narrow[0] and wide[1] > narrow[1]


@pytest.mark.parametrize(("successes", "n"), [(11, 10), (-1, 10), (0, -1)])
def test_wilson_rejects_impossible_counts(successes, n):
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


# --- bootstrap mean --------------------------------------------------------------------------


def test_bootstrap_mean_ci_contains_mean_and_is_deterministic():
    values = [0.2, 0.4, 0.5, 0.9, 1.0, 0.0, 0.7, 0.6, 0.3, 0.8]
    mean, low, high = bootstrap_mean_ci(values)
    assert mean == pytest.approx(0.54)
    assert low < mean < high
    assert low > 0.3 and high < 0.75  # roughly mean ± 2·SE (SE ≈ 0.1)
    assert bootstrap_mean_ci(values) == (mean, low, high)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], (0.0, 0.0, 0.0)),
        ([0.7], (0.7, 0.7, 0.7)),
        ([1.0] * 20, (1.0, 1.0, 1.0)),
        ([0.0, 0.0, 0.0], (0.0, 0.0, 0.0)),
    ],
)
def test_bootstrap_mean_ci_degenerate_samples(values, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = bootstrap_mean_ci(values)
    assert result == expected


def test_bootstrap_mean_ci_lopsided_small_samples_are_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for values in ([0.0, 1.0], [0.0] * 9 + [1.0], [1.0] * 29 + [0.0]):
            mean, low, high = bootstrap_mean_ci(values)
            assert all(math.isfinite(x) for x in (mean, low, high))
            assert 0.0 <= low <= mean <= high <= 1.0


# --- McNemar ---------------------------------------------------------------------------------


def test_mcnemar_exact_b1_c9():
    # 10 discordant pairs, 1 one way: p = 2 * P(X <= 1 | Bin(10, 1/2)) = 2 * 11 / 1024
    before = [True] * 5 + [True] + [False] * 9 + [False] * 5
    after = [True] * 5 + [False] + [True] * 9 + [False] * 5
    result = mcnemar_exact(before, after)
    assert (result["b"], result["c"]) == (1, 9)
    assert (result["both_right"], result["both_wrong"], result["n"]) == (5, 5, 20)
    assert result["p_value"] == pytest.approx(22 / 1024)
    assert result["p_value"] == pytest.approx(0.0215, abs=1e-4)


def test_mcnemar_is_symmetric_in_direction():
    before = [True] * 9 + [False]
    after = [False] * 9 + [True]
    assert mcnemar_exact(before, after)["p_value"] == pytest.approx(22 / 1024)


def test_mcnemar_no_discordant_pairs():
    result = mcnemar_exact([True, False, True], [True, False, True])
    assert (result["b"], result["c"], result["p_value"]) == (0, 0, 1.0)
    assert mcnemar_exact([], [])["p_value"] == 1.0


def test_mcnemar_balanced_discordance_is_not_significant():
    result = mcnemar_exact([True, False] * 5, [False, True] * 5)
    assert (result["b"], result["c"]) == (5, 5)
    assert result["p_value"] == pytest.approx(1.0)


def test_mcnemar_rejects_unpaired_lists():
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])


# --- paired bootstrap ------------------------------------------------------------------------


def test_paired_bootstrap_detects_clear_shift():
    before = [0.1 * (i % 7) for i in range(40)]
    after = [b + 0.2 + 0.01 * (i % 3) for i, b in enumerate(before)]
    result = paired_bootstrap(before, after)
    assert result["mean_diff"] == pytest.approx(0.2 + 0.01 * 39 / 40, abs=1e-9)
    assert result["ci_low"] > 0.19 and result["ci_high"] < 0.22
    assert result["p_value"] == pytest.approx(1 / 5001)
    assert result["n"] == 40


def test_paired_bootstrap_zero_shift_is_not_significant():
    before = [0.1 * (i % 7) for i in range(40)]
    noise = [0.05, -0.05] * 20  # sums to exactly zero
    after = [b + e for b, e in zip(before, noise, strict=True)]
    result = paired_bootstrap(before, after)
    assert result["mean_diff"] == pytest.approx(0.0, abs=1e-12)
    assert result["ci_low"] < 0 < result["ci_high"]
    assert result["p_value"] > 0.9


def test_paired_bootstrap_noisy_small_shift_is_not_significant():
    before = [0.5] * 20
    after = [0.5 + d for d in [0.3, -0.3, 0.2, -0.2, 0.1] * 4]  # mean +0.02, sd ≈ 0.23
    result = paired_bootstrap(before, after)
    assert result["mean_diff"] == pytest.approx(0.02)
    assert result["p_value"] > 0.5


def test_paired_bootstrap_is_deterministic_and_seeded():
    before = [0.0, 0.5, 1.0, 0.2, 0.8, 0.4]
    after = [0.5, 0.5, 1.0, 0.6, 0.7, 0.9]
    assert paired_bootstrap(before, after) == paired_bootstrap(before, after)
    assert paired_bootstrap(before, after, seed=1) != paired_bootstrap(before, after, seed=2)


def test_paired_bootstrap_degenerate_inputs():
    assert paired_bootstrap([], []) == {
        "n": 0,
        "mean_diff": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.0,
        "p_value": 1.0,
    }
    one = paired_bootstrap([0.2], [0.9])
    assert one["mean_diff"] == pytest.approx(0.7)
    assert one["p_value"] == 1.0
    with pytest.raises(ValueError):
        paired_bootstrap([0.1], [0.1, 0.2])


# --- Holm ------------------------------------------------------------------------------------


def test_holm_known_values():
    # sorted: 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.04·1, 0.06) = 0.06
    adjusted = holm({"title": 0.01, "brand": 0.04, "color": 0.03})
    assert list(adjusted) == ["title", "brand", "color"]
    assert adjusted == pytest.approx({"title": 0.03, "brand": 0.06, "color": 0.06})


def test_holm_caps_at_one_and_handles_edges():
    assert holm({"a": 0.6, "b": 0.7}) == pytest.approx({"a": 1.0, "b": 1.0})
    assert holm({"only": 0.02}) == pytest.approx({"only": 0.02})
    assert holm({}) == {}
