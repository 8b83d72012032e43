"""Each rule of experiments.decision, on hand-made evidence."""

import dataclasses
import json

import pytest

from experiments.decision import ArmEvidence, recommend, with_holm
from experiments.stats import AlwaysValid, LogRank, ProportionDiff

FASTER = LogRank(9.0, 0.003, 30.0, 100.0, 1.35)
SLOWER = LogRank(9.0, 0.003, -30.0, 100.0, 0.74)
STRONG = AlwaysValid(200.0, 0.005, 0.22)
WEAK = AlwaysValid(2.0, 0.5, 0.22)
SAME_ABANDONMENT = ProportionDiff(0.15, 0.16, 0.01, -0.02, 0.04, 0.5)
WORSE_ABANDONMENT = ProportionDiff(0.15, 0.22, 0.07, 0.03, 0.11, 0.001)

CONTROL = ArmEvidence("control", True, 1200, None, None, False, None, [])


def _arm(**changes) -> ArmEvidence:
    arm = ArmEvidence("ai-v2", False, 1000, FASTER, STRONG, True, SAME_ABANDONMENT, [])
    return dataclasses.replace(arm, **changes)


def _one(arm: ArmEvidence, *, srm: bool = False, planned: int = 1500):
    (result,) = recommend([CONTROL, arm], sessions_needed_per_arm=planned, srm_mismatch=srm)
    json.dumps(dataclasses.asdict(result))
    return result


def test_significant_faster_and_abandonment_not_worse_ships():
    result = _one(_arm())
    assert result.action == "ship"
    assert "hazard ratio 1.35" in result.reasons[0]
    assert result.sessions_still_needed is None


def test_significant_slower_stops():
    result = _one(_arm(logrank=SLOWER))
    assert result.action == "stop"
    assert result.reasons[0].startswith("slower than control")


def test_faster_but_more_abandonment_stops_with_that_reason():
    result = _one(_arm(abandonment=WORSE_ABANDONMENT))
    assert result.action == "stop"
    assert "abandonment 22% vs 15% in control" in result.reasons[0]


def test_guardrail_breach_stops_even_when_faster():
    result = _one(_arm(guardrail_breaches=["failed or empty drafts 14% > 10%"]))
    assert result.action == "stop"
    assert result.reasons == ["guardrail breached: failed or empty drafts 14% > 10%"]


def test_paused_arm_stops():
    result = _one(_arm(paused_reason="kill switch by staff"))
    assert (result.action, result.reasons) == ("stop", ["paused: kill switch by staff"])


def test_sample_ratio_mismatch_never_ships():
    result = _one(_arm(), srm=True)
    assert result.action == "keep running"
    assert "cannot be trusted until the cause is found" in result.reasons[0]
    assert result.sessions_still_needed == 500


def test_not_significant_keeps_running_with_sessions_still_needed():
    # The smaller of arm (1000) and control (1200) counts: 1500 - 1000.
    result = _one(_arm(always_valid=WEAK, holm_reject=False))
    assert result.action == "keep running"
    assert result.sessions_still_needed == 500
    assert "not significant after Holm" in result.reasons[0]
    assert _one(_arm(holm_reject=False), planned=800).sessions_still_needed == 0


def test_not_significant_with_worse_abandonment_keeps_running_and_says_so():
    result = _one(_arm(holm_reject=False, abandonment=WORSE_ABANDONMENT))
    assert result.action == "keep running"
    assert result.reasons[1].startswith("watch: abandonment 22%")


def test_no_publishes_yet_keeps_running():
    result = _one(_arm(logrank=None, always_valid=None, holm_reject=False, abandonment=None))
    assert result.action == "keep running"
    assert result.reasons == ["not yet conclusive: no publishes to compare yet"]


def test_holm_over_arms_decides_significance():
    # Alone, p = 0.03 would be significant; with a second arm at 0.04, Holm needs 0.025.
    arms = [
        CONTROL,
        _arm(arm="a", always_valid=AlwaysValid(33.0, 0.03, 0.22), holm_reject=False),
        _arm(arm="b", always_valid=AlwaysValid(25.0, 0.04, 0.22), holm_reject=False),
    ]
    assert [e.holm_reject for e in with_holm(arms)] == [False, False, False]
    assert [e.holm_reject for e in with_holm(arms[:2])] == [False, True]
    results = recommend(with_holm(arms[:2]), sessions_needed_per_arm=1500, srm_mismatch=False)
    assert [r.action for r in results] == ["ship"]


def test_needs_exactly_one_control():
    with pytest.raises(ValueError):
        recommend([_arm()], sessions_needed_per_arm=100, srm_mismatch=False)
