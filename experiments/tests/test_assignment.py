"""The hash that decides enrollment and arm: fixed vectors other services can reproduce, and its
distribution.

The vectors were computed once outside Python, with `openssl dgst -sha256` and `bc`:

    printf '%s' 'trova-test-salt:enroll:42' | openssl dgst -sha256 -r | cut -c1-16
    -> 2122f556463bb165 = 2387740503354093925; bucket = that / 2^64 = 0.12943967...
"""

import numpy as np
import pytest
from scipy import stats

from experiments.assignment import (
    arm_bucket,
    arm_index,
    bucket,
    enrollment_bucket,
    is_enrolled,
)

SALT = "trova-test-salt"
N = 100_000

# user id, first 8 bytes of sha256("<salt>:enroll:<id>") and of sha256("<salt>:arm:<id>") as
# unsigned big-endian integers, enrolled at 5/25/50/100 %, arm index for weights [1, 1] and
# [1, 2, 1].
VECTORS = [
    (1, 11902132395195862040, 1885277968144668114, (0, 0, 0, 1), 0, 0),
    (2, 1285131537293109025, 8811629988782304681, (0, 1, 1, 1), 0, 1),
    (7, 6799006911939133445, 15973800018465837960, (0, 0, 1, 1), 1, 2),
    (42, 2387740503354093925, 9750481797595162525, (0, 1, 1, 1), 1, 1),
    (1000, 15494256634299991510, 7513268524500984983, (0, 0, 0, 1), 0, 1),
    (123456789, 742341646870121422, 6407318702183422300, (1, 1, 1, 1), 0, 1),
]


@pytest.mark.parametrize(("user_id", "enroll_int", "arm_int", "enrolled", "of_two", "of_three"),
                         VECTORS)  # fmt: skip
def test_fixed_vectors(user_id, enroll_int, arm_int, enrolled, of_two, of_three):
    assert enrollment_bucket(SALT, user_id) == enroll_int / 2**64
    assert arm_bucket(SALT, user_id) == arm_int / 2**64
    assert bucket(f"{SALT}:enroll:{user_id}") == enroll_int / 2**64
    for percent, expected in zip((5, 25, 50, 100), enrolled, strict=True):
        assert is_enrolled(SALT, user_id, percent) is bool(expected), percent
    assert arm_index(SALT, user_id, [1, 1]) == of_two
    assert arm_index(SALT, user_id, [1, 2, 1]) == of_three


def test_one_vector_in_decimal_as_documented():
    # 0x2122f556463bb165 / 2^64, from bc with 20 digits
    assert enrollment_bucket(SALT, 42) == pytest.approx(0.12943967205340702601, abs=1e-15)
    assert arm_bucket(SALT, 7) == pytest.approx(0.86594143414348261804, abs=1e-15)


def test_another_salt_gives_other_buckets():
    assert enrollment_bucket("other-salt", 42) != enrollment_bucket(SALT, 42)


@pytest.fixture(scope="module")
def buckets():
    ids = range(1, N + 1)
    return (
        np.array([enrollment_bucket(SALT, i) for i in ids]),
        np.array([arm_bucket(SALT, i) for i in ids]),
    )


def test_buckets_are_uniform_over_100000_ids(buckets):
    for values in buckets:
        assert values.min() >= 0 and values.max() < 1
        counts, _ = np.histogram(values, bins=100, range=(0, 1))
        # Uniform: 1,000 per bin; chi-square over 100 bins (99 df) must not reject at 0.1%.
        result = stats.chisquare(counts)
        assert result.pvalue > 0.001, (result, counts.min(), counts.max())
        assert abs(values.mean() - 0.5) < 0.005  # sd of the mean: 0.29 / sqrt(1e5) = 0.0009
        assert stats.kstest(values, "uniform").pvalue > 0.001


def test_enrolled_share_follows_the_percent(buckets):
    enroll, _ = buckets
    for percent in (5, 25, 50):
        share = (enroll < percent / 100).mean()
        assert share == pytest.approx(percent / 100, abs=0.005)


@pytest.mark.parametrize("weights", [[1, 1], [1, 2, 1], [9, 1], [3, 1, 1, 5]])
def test_arms_split_by_weight_over_100000_ids(weights):
    indexes = np.array([arm_index(SALT, i, weights) for i in range(1, N + 1)])
    counts = np.bincount(indexes, minlength=len(weights))
    expected = np.array(weights) / sum(weights)
    assert np.allclose(counts / N, expected, atol=0.005), counts
    assert stats.chisquare(counts, expected * N).pvalue > 0.001


def test_enrollment_and_arm_are_independent(buckets):
    """Two salts: who is enrolled says nothing about the arm (else ramping would skew it)."""
    enroll, arm = buckets
    table = np.histogram2d(enroll, arm, bins=(4, 2), range=((0, 1), (0, 1)))[0]
    assert stats.chi2_contingency(table).pvalue > 0.001
    assert abs(np.corrcoef(enroll, arm)[0, 1]) < 0.01
    # The first 5% enrolled split like everyone: close to 50/50 between two equal arms.
    early = arm[enroll < 0.05] < 0.5
    assert early.mean() == pytest.approx(0.5, abs=0.05)


def test_weights_below_one_are_refused():
    for weights in ([], [1, 0], [2, -1]):
        with pytest.raises(ValueError, match="weight of at least 1"):
            arm_index(SALT, 1, weights)
