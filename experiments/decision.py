"""The recommendation per arm, in words, from numbers already computed (pure, no database).

Rules, first match wins, for each non-control arm against control:

1. Paused, or a guardrail breached (e.g. failed or empty drafts above their limit) -> "stop",
   naming each reason. Harm outranks any speed gain.
2. Sample ratio mismatch -> "keep running", never ship: the split is not what was configured, so
   the arms may differ in who they got and no result can be trusted until the cause is found.
3. Always-valid p significant after Holm over all non-control arms (`holm_reject`):
   - slower (hazard ratio < 1) -> "stop";
   - faster but abandonment significantly worse (higher, two-sided p < alpha) -> "stop": sellers
     who stay publish faster, but more of them give up;
   - faster and abandonment not significantly worse -> "ship".
4. Otherwise -> "keep running", with the sessions still needed to reach the planned size:
   max(0, planned - min(arm sessions, control sessions)).

Abandonment uses the fixed-horizon test, read at every peek. That errs towards stopping on harm,
the safe side for a guardrail; shipping still needs the always-valid evidence on speed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .stats import AlwaysValid, LogRank, ProportionDiff, holm_adjust


@dataclass(frozen=True)
class ArmEvidence:
    arm: str
    is_control: bool
    sessions: int
    logrank: LogRank | None  # vs control (None for control)
    always_valid: AlwaysValid | None  # mSPRT of the log-rank vs control
    holm_reject: bool  # after Holm over all non-control arms, on always-valid p-values
    abandonment: ProportionDiff | None  # arm vs control
    guardrail_breaches: list[str]  # sentences like "failed or empty drafts 14% > 10%"
    paused_reason: str = ""


@dataclass(frozen=True)
class Recommendation:
    arm: str
    action: str  # "ship" | "keep running" | "stop"
    reasons: list[str]
    sessions_still_needed: int | None


def with_holm(evidence: list[ArmEvidence], alpha: float = 0.05) -> list[ArmEvidence]:
    """The same evidence with `holm_reject` set by Holm over the non-control arms' always-valid
    p-values (an arm without one counts as p = 1)."""
    arms = [e for e in evidence if not e.is_control]
    p_values = [e.always_valid.p_value if e.always_valid else 1.0 for e in arms]
    adjusted = holm_adjust(p_values, alpha)
    rejects = {e.arm: reject for e, (reject, _) in zip(arms, adjusted, strict=True)}
    return [e if e.is_control else replace(e, holm_reject=rejects[e.arm]) for e in evidence]


def recommend(
    evidence: list[ArmEvidence],
    *,
    sessions_needed_per_arm: int,
    srm_mismatch: bool,
    alpha: float = 0.05,
) -> list[Recommendation]:
    """One recommendation per non-control arm, by the rules in the module docstring."""
    controls = [e for e in evidence if e.is_control]
    if len(controls) != 1:
        raise ValueError(f"need exactly one control arm, got {len(controls)}")
    control_sessions = controls[0].sessions
    return [
        _recommend_arm(e, control_sessions, sessions_needed_per_arm, srm_mismatch, alpha)
        for e in evidence
        if not e.is_control
    ]


def _recommend_arm(
    e: ArmEvidence, control_sessions: int, planned: int, srm_mismatch: bool, alpha: float
) -> Recommendation:
    harm = ([f"paused: {e.paused_reason}"] if e.paused_reason else []) + [
        f"guardrail breached: {breach}" for breach in e.guardrail_breaches
    ]
    if harm:
        return Recommendation(e.arm, "stop", harm, None)
    still_needed = max(0, planned - min(e.sessions, control_sessions))
    if srm_mismatch:
        reason = (
            "sample ratio mismatch: the arms did not get the configured split, so the results "
            "cannot be trusted until the cause is found"
        )
        return Recommendation(e.arm, "keep running", [reason], still_needed)
    speed = _speed_sentence(e)
    worse_abandonment = _abandonment_worse(e.abandonment, alpha)
    if e.holm_reject and e.logrank and e.logrank.hazard_ratio is not None:
        if e.logrank.hazard_ratio < 1:
            return Recommendation(e.arm, "stop", [f"slower than control: {speed}"], None)
        if worse_abandonment:
            return Recommendation(
                e.arm, "stop", [f"faster ({speed}) but {worse_abandonment}"], None
            )
        return Recommendation(e.arm, "ship", [f"faster than control: {speed}"], None)
    reasons = [f"not yet conclusive: {speed}"]
    if worse_abandonment:
        reasons.append(f"watch: {worse_abandonment}")
    return Recommendation(e.arm, "keep running", reasons, still_needed)


def _speed_sentence(e: ArmEvidence) -> str:
    if e.logrank is None or e.logrank.hazard_ratio is None or e.always_valid is None:
        return "no publishes to compare yet"
    return (
        f"time to publish hazard ratio {e.logrank.hazard_ratio:.2f} "
        f"(always-valid p = {e.always_valid.p_value:.3g}, "
        f"{'significant' if e.holm_reject else 'not significant'} after Holm)"
    )


def _abandonment_worse(diff: ProportionDiff | None, alpha: float) -> str:
    """A sentence when abandonment is significantly higher in the arm, else ""."""
    if diff is None or diff.p_value is None or diff.difference is None:
        return ""
    if diff.difference <= 0 or diff.p_value >= alpha:
        return ""
    return (
        f"abandonment {diff.arm:.0%} vs {diff.control:.0%} in control "
        f"(+{diff.difference:.1%}, p = {diff.p_value:.3g})"
    )
