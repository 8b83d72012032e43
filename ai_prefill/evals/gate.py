"""The verdict of an eval run: must-pass cases, floors, and significant regressions."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .scoring import FIELDS

GATES_FILE = Path(__file__).with_name("gates.toml")


@dataclass(frozen=True)
class GatePolicy:
    must_pass_fields: tuple[str, ...]
    floors: dict[str, float]
    alpha: float = 0.05
    min_effect: float = 0.05
    section: str = "default"  # the gates.toml table this policy was read from


@dataclass
class GateVerdict:
    passed: bool = True
    reasons: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.passed = False
        self.reasons.append(reason)


def gate_policy_for(provider: str, path: Path = GATES_FILE) -> GatePolicy:
    policies = tomllib.loads(path.read_text(encoding="utf-8"))
    section = provider if provider in policies else "default"
    data = policies[section]
    return GatePolicy(
        section=section,
        must_pass_fields=tuple(data.get("must_pass_fields", ())),
        floors=dict(data.get("floors", {})),
        alpha=float(data.get("alpha", 0.05)),
        min_effect=float(data.get("min_effect", 0.05)),
    )


def gate_decide(*, policy: GatePolicy, results, metrics: dict, comparison: dict) -> GateVerdict:
    """`results`: EvalResult rows (with .case); `metrics` and `comparison` as the runner builds."""
    verdict = GateVerdict()
    for result in results:
        if result.case.must_pass and not _gated_fields_right(result, policy):
            wrong = [f for f in policy.must_pass_fields if not result.scores[f]["correct"]]
            what = result.error_type or ", ".join(wrong)
            verdict.fail(
                f"must-pass case {result.case.key} (repeat {result.repeat}) failed: {what}"
            )
    for name, floor in policy.floors.items():
        score = metrics["fields"][name]["score"]
        if score < floor:
            verdict.fail(f"{name} score {score:.3f} is below its floor {floor:.2f}")
    for name, test in comparison.get("fields", {}).items():
        if test["significant_regression"]:
            baseline = comparison["baseline_run"]
            verdict.fail(
                f"{name} regressed by {test['delta']:+.3f} against run {baseline} "
                f"(Holm-adjusted p = {test['p_holm']:.4f})"
            )
    return verdict


def _gated_fields_right(result, policy: GatePolicy) -> bool:
    if result.error_type:
        return False
    return all(result.scores[name]["correct"] for name in policy.must_pass_fields)


def gate_checks_describe(
    *, policy: GatePolicy, results, metrics: dict, comparison: dict
) -> list[str]:
    """What the gate checked and against which limits, one line each, so a pass over low scores
    says which fields it did and did not look at."""
    must_pass = sum(1 for result in results if result.case.must_pass)
    lines = [f"gates checked ({GATES_FILE.name} [{policy.section}]):"]
    if policy.must_pass_fields:
        lines.append(
            f"  must-pass cases ({must_pass}): {', '.join(policy.must_pass_fields)} must be right"
        )
    for name, floor in policy.floors.items():
        score = metrics["fields"][name]["score"]
        mark = "ok" if score >= floor else "BELOW"
        lines.append(f"  floor {name} >= {floor:.2f}: scored {score:.3f} ({mark})")
    if comparison:
        lines.append(
            f"  regressions against run {comparison['baseline_run']} "
            f"({comparison['n_paired']} paired): Holm-adjusted p < {policy.alpha} "
            f"and a drop >= {policy.min_effect} in any field"
        )
    else:
        lines.append("  regressions: not checked (no baseline run to compare with)")
    gated = set(policy.floors) | set(policy.must_pass_fields)
    if comparison:  # a significant regression in any field fails the gate
        gated |= set(FIELDS)
    ungated = [name for name in FIELDS if name not in gated]
    lines.append(f"  not gated for this provider: {', '.join(ungated) or 'none'}")
    return lines
