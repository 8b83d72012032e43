"""The verdict of an eval run: must-pass cases, floors, and significant regressions."""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

GATES_FILE = Path(__file__).with_name("gates.toml")


@dataclass(frozen=True)
class GatePolicy:
    must_pass_fields: tuple[str, ...]
    floors: dict[str, float]
    alpha: float = 0.05
    min_effect: float = 0.05


@dataclass
class GateVerdict:
    passed: bool = True
    reasons: list[str] = field(default_factory=list)

    def fail(self, reason: str) -> None:
        self.passed = False
        self.reasons.append(reason)


def gate_policy_for(provider: str, path: Path = GATES_FILE) -> GatePolicy:
    policies = tomllib.loads(path.read_text(encoding="utf-8"))
    data = policies.get(provider, policies["default"])
    return GatePolicy(
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
