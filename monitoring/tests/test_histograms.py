"""The fixed latency buckets: where a duration falls, and the documented worst-case error."""

import random

import pytest

from monitoring import histograms


def test_edges_grow_by_a_fixed_ratio_from_10_ms_to_about_31_minutes():
    assert histograms.EDGES_MS[0] == 10
    assert histograms.EDGES_MS[-1] == pytest.approx(10 * 2**17.5)
    assert histograms.bucket_index(9.99) == 0
    assert histograms.bucket_index(10) == 1
    assert histograms.bucket_index(-5) == 0  # clock skew counts as no wait
    assert histograms.bucket_index(10 * 2**18) == histograms.EDGE_COUNT  # the open last bucket


def test_a_percentile_is_within_the_documented_relative_error():
    rng = random.Random(3)
    for _ in range(200):
        values = [rng.lognormvariate(7, 1.5) + 10 for _ in range(rng.randint(1, 300))]
        histogram = histograms.Counter(histograms.bucket_index(v) for v in values)
        for q in (0.5, 0.95, 0.99):
            true = sorted(values)[max(1, -(-int(q * 1000) * len(values) // 1000)) - 1]
            read = histograms.percentile_seconds(histogram, q) * 1000
            if true < histograms.EDGES_MS[-1]:
                assert abs(read - true) / true <= histograms.WORST_RELATIVE_ERROR + 1e-12


def test_stored_form_round_trips_and_an_empty_histogram_has_no_percentile():
    histogram = histograms.Counter({3: 2, 40: 1})
    assert histograms.as_counter(histograms.as_stored(histogram)) == histogram
    assert histograms.percentile_seconds(histograms.Counter(), 0.95) is None
