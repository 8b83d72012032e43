"""A behaviour model of synthetic sellers: how long they take to publish, and who gives up.

Pure (numpy Generator passed in, so a seed fixes every outcome). Used twice: in-process by the
statistical validation tests (thousands of experiments in seconds) and by the `simulate_sellers`
command that drives the real site with the same behaviour.

Time to publish is lognormal (a median and a spread on log seconds), the usual shape of task
times: bounded below, long right tail. An arm that is `speedup` faster multiplies every time by
1 - speedup (an accelerated-failure-time effect). A share `abandonment` never publishes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ArmBehaviour:
    speedup: float = 0.0  # 0.2 = publishes 20% faster (time multiplied by 1 - speedup)
    abandonment: float = 0.15  # share of sessions that never publish
    base_median_seconds: float = 300.0
    sd_log_seconds: float = 0.8

    def __post_init__(self):
        if not (0 <= self.speedup < 1 and 0 <= self.abandonment <= 1):
            raise ValueError("need 0 <= speedup < 1 and 0 <= abandonment <= 1")
        if self.base_median_seconds <= 0 or self.sd_log_seconds < 0:
            raise ValueError("need base_median_seconds > 0 and sd_log_seconds >= 0")


def session_outcomes(
    behaviour: ArmBehaviour, n: int, rng: np.random.Generator, *, observe_seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    """(durations, published) for n sessions followed for `observe_seconds`.

    Abandoned sessions are censored at `observe_seconds` (the abandonment window: a session
    counts as abandoned once it has been open that long); a publish later than that is censored
    there too, as the site would see it.
    """
    median = behaviour.base_median_seconds * (1 - behaviour.speedup)
    times = rng.lognormal(math.log(median), behaviour.sd_log_seconds, size=n)
    gives_up = rng.random(n) < behaviour.abandonment
    published = ~gives_up & (times <= observe_seconds)
    durations = np.where(published, times, float(observe_seconds))
    return durations, published


def observed_at_age(
    durations: np.ndarray, published: np.ndarray, ages: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """What an analysis run now sees of sessions opened `ages` seconds ago: one still open is
    censored at its age. Sessions of age 0 are not yet observable and must be left out first."""
    seen = published & (durations <= ages)
    return np.where(seen, durations, np.minimum(durations, ages)), seen


def split_arms(n_sellers: int, weights, rng: np.random.Generator) -> np.ndarray:
    """Arm index per seller, drawn independently by `weights` (pass skewed weights to simulate
    a broken assignment for the sample-ratio check)."""
    shares = np.asarray(weights, dtype=float)
    return rng.choice(shares.size, size=n_sellers, p=shares / shares.sum())
