"""Which arm a seller gets: a pure function of the experiment's salt and the seller's id.

Documented so any other service can reproduce it (fixed vectors in tests/test_assignment.py):

    bucket(text) = int.from_bytes(sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64

    enrolled    <=> bucket(f"{salt}:enroll:{user_id}") < enrollment_percent / 100
    arm         =   the first arm, in `position` order, with
                    bucket(f"{salt}:arm:{user_id}") < (sum of weights up to and including it)
                                                      / (sum of all weights)

Two salts, so that who is enrolled and which arm they get are independent: raising enrollment
from 5% to 25% adds the sellers with buckets in [0.05, 0.25) and leaves everyone else where they
were. The first assignment is stored (models.Assignment) and wins afterwards, so changing the
weights could not move anyone already in; it is refused anyway, since it would skew the split.
"""

import hashlib
from collections.abc import Sequence
from decimal import Decimal

_SCALE = 2**64


def bucket(text: str) -> float:
    """A number in [0, 1), uniform over inputs, the same in every process and language."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def enrollment_bucket(salt: str, user_id: int) -> float:
    return bucket(f"{salt}:enroll:{user_id}")


def arm_bucket(salt: str, user_id: int) -> float:
    return bucket(f"{salt}:arm:{user_id}")


def is_enrolled(salt: str, user_id: int, enrollment_percent: Decimal | float) -> bool:
    return enrollment_bucket(salt, user_id) < float(enrollment_percent) / 100


def arm_index(salt: str, user_id: int, weights: Sequence[int]) -> int:
    """Index into `weights` (the arms in position order) by cumulative weight."""
    if not weights or min(weights) < 1:
        raise ValueError("every arm needs a weight of at least 1")
    point = arm_bucket(salt, user_id) * sum(weights)
    cumulative = 0
    for index, weight in enumerate(weights):
        cumulative += weight
        if point < cumulative:
            return index
    return len(weights) - 1  # unreachable: point < sum(weights); kept for float safety
