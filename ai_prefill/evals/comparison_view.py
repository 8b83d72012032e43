"""Reads behind the admin's eval pages: two runs compared case by case, the tables of one run's
metrics and comparison, and a case's private image.

Pure reads, no writes. A comparison costs two queries whatever the number of cases: the two
runs (with their prompt versions) and the results of both (with their cases).
"""

import io
from dataclasses import dataclass, field

from PIL import Image

from ..models import EvalCase, EvalResult, EvalRun
from .changes import FIX, GROUPS, REGRESSION, field_change, item_change
from .scoring import FIELDS

ADMIN_THUMBNAIL_SIDE = 160  # shown at 48-96 px; twice that stays sharp on high-DPI screens


@dataclass(frozen=True)
class FieldPair:
    """One field of one item, as run A and run B answered it."""

    name: str
    expected: object
    a_value: object
    b_value: object
    a_correct: bool
    b_correct: bool
    a_note: str = ""
    b_note: str = ""

    @property
    def change(self) -> str:
        return field_change(before_correct=self.a_correct, after_correct=self.b_correct)


@dataclass(frozen=True)
class CasePair:
    """One item both runs answered: same case content (case_hash), same repeat."""

    case: EvalCase
    repeat: int
    a: EvalResult
    b: EvalResult
    fields: list[FieldPair]

    @property
    def regressed(self) -> int:
        return sum(f.change == REGRESSION for f in self.fields)

    @property
    def fixed(self) -> int:
        return sum(f.change == FIX for f in self.fields)

    @property
    def group(self) -> str:
        """Regression, fix or unchanged, as every report says it (evals/changes.py)."""
        before = {f.name: f.a_correct for f in self.fields}
        return item_change(before=before, after={f.name: f.b_correct for f in self.fields})


@dataclass(frozen=True)
class FieldSummary:
    """A field's mean score and accuracy over the shared items, in A and in B."""

    name: str
    a_score: float
    b_score: float
    a_accuracy: float
    b_accuracy: float

    @property
    def score_delta(self) -> float:
        return self.b_score - self.a_score

    @property
    def accuracy_delta(self) -> float:
        return self.b_accuracy - self.a_accuracy

    @property
    def score_delta_display(self) -> str:
        return f"{self.score_delta:+.3f}"

    @property
    def accuracy_delta_display(self) -> str:
        return f"{self.accuracy_delta:+.1%}"


@dataclass(frozen=True)
class RunComparison:
    run_a: EvalRun
    run_b: EvalRun
    pairs: list[CasePair]
    fields: list[FieldSummary]
    only_a: int
    only_b: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def same_dataset(self) -> bool:
        return self.run_a.dataset_version == self.run_b.dataset_version

    @property
    def same_prompt(self) -> bool:
        return self.run_a.prompt_version_id == self.run_b.prompt_version_id


def eval_runs_get(*, ids: list[int]) -> dict[int, EvalRun]:
    """Runs by id (with their prompt versions), in one query; unknown ids are left out."""
    return EvalRun.objects.select_related("prompt_version").in_bulk(ids)


def eval_runs_recent(*, limit: int = 200) -> list[EvalRun]:
    """The newest runs, for the comparison page's pickers."""
    runs = EvalRun.objects.select_related("prompt_version").order_by("-created_at", "-id")
    shown = (
        "created_at",
        "provider",
        "model",
        "prompt_version__name",
        "prompt_version__content_hash",
    )
    return list(runs.only(*shown)[:limit])


def eval_runs_compare(*, run_a: EvalRun, run_b: EvalRun) -> RunComparison:
    """Pair the runs' items by (case_hash, repeat); regressions first, then fixes, then the rest.

    Within a group, the items with more regressed (then more fixed) fields come first.
    """
    results = EvalResult.objects.filter(run__in=[run_a.pk, run_b.pk]).select_related("case")
    by_run: dict[int, dict[tuple[str, int], EvalResult]] = {run_a.pk: {}, run_b.pk: {}}
    for result in results:
        by_run[result.run_id][(result.case_hash, result.repeat)] = result
    mine, theirs = by_run[run_a.pk], by_run[run_b.pk]
    shared = set(mine) & set(theirs)
    pairs = [_pair(mine[key], theirs[key]) for key in shared]
    pairs.sort(key=lambda p: (GROUPS.index(p.group), -p.regressed, -p.fixed, p.case.key, p.repeat))
    counts = {group: sum(p.group == group for p in pairs) for group in GROUPS}
    return RunComparison(
        run_a=run_a,
        run_b=run_b,
        pairs=pairs,
        fields=_summaries(pairs),
        only_a=len(set(mine) - shared),
        only_b=len(set(theirs) - shared),
        counts=counts,
    )


def _pair(a: EvalResult, b: EvalResult) -> CasePair:
    fields = []
    for name in FIELDS:
        a_score, b_score = a.scores[name], b.scores[name]
        fields.append(
            FieldPair(
                name=name,
                expected=b.expected.get(name),
                a_value=_value(a, name),
                b_value=_value(b, name),
                a_correct=bool(a_score["correct"]),
                b_correct=bool(b_score["correct"]),
                a_note=a_score.get("note", ""),
                b_note=b_score.get("note", ""),
            )
        )
    return CasePair(case=b.case, repeat=b.repeat, a=a, b=b, fields=fields)


def _value(result: EvalResult, name: str) -> object:
    if result.output is None:
        return None
    return result.output.get(name)


def _summaries(pairs: list[CasePair]) -> list[FieldSummary]:
    n = len(pairs) or 1  # no shared item: every mean is 0, and the page says there is none
    summaries = []
    for name in FIELDS:
        a_scores = [p.a.scores[name] for p in pairs]
        b_scores = [p.b.scores[name] for p in pairs]
        summaries.append(
            FieldSummary(
                name=name,
                a_score=sum(s["score"] for s in a_scores) / n,
                b_score=sum(s["score"] for s in b_scores) / n,
                a_accuracy=sum(bool(s["correct"]) for s in a_scores) / n,
                b_accuracy=sum(bool(s["correct"]) for s in b_scores) / n,
            )
        )
    return summaries


# --- one run's JSON as table rows -------------------------------------------------------------


def metrics_rows(metrics: dict) -> list[dict]:
    """Per field: mean score with its bootstrap CI, accuracy with its Wilson CI."""
    rows = []
    for name, data in (metrics or {}).get("fields", {}).items():
        rows.append(
            {
                "name": name,
                "score": data["score"],
                "ci": _interval(data.get("ci")),
                "accuracy": data["accuracy"],
                "accuracy_ci": _interval(data.get("accuracy_ci")),
            }
        )
    return rows


def metrics_summary_rows(metrics: dict) -> list[tuple[str, str]]:
    """The case-level rates and the run's cost, latency and failures, as (label, value)."""
    if not metrics:
        return []
    rows = [("items (cases × repeats)", str(metrics.get("n", "")))]
    for key, label in (
        ("all_correct", "all fields correct"),
        ("condition_within_one", "condition within one step"),
        ("invented_brand", "invented brand"),
    ):
        rate = metrics.get(key)
        if rate:
            share = f"{rate['count']}/{rate['n']} = {rate['rate']:.1%}"
            rows.append((label, f"{share} (95% CI {_interval(rate['ci'])})"))
    failures = metrics.get("failures") or {}
    by_type = ", ".join(f"{k}: {v}" for k, v in sorted(failures.get("by_type", {}).items()))
    rows.append(("failures", f"{failures.get('count', 0)}" + (f" ({by_type})" if by_type else "")))
    cost = metrics.get("cost_usd") or {}
    total, per_item = cost.get("total", 0), cost.get("per_case", 0)
    rows.append(("cost (USD)", f"{total:.4f} total, {per_item:.5f} per item"))
    latency = metrics.get("latency_ms") or {}
    if latency.get("n"):
        rows.append(("latency (ms)", f"p50 {latency['p50']:.0f}, p95 {latency['p95']:.0f}"))
    rows.append(("answers from the cache", str(metrics.get("cached", 0))))
    return rows


def comparison_rows(comparison: dict) -> list[dict]:
    """Per field: the paired test, its effect, the Holm-adjusted p and the verdict."""
    rows = []
    for name, test in (comparison or {}).get("fields", {}).items():
        if test.get("test") == "mcnemar_exact":
            detail = f"{test['right_to_wrong']} right→wrong, {test['wrong_to_right']} wrong→right"
        else:
            detail = f"95% CI {_interval(test.get('ci'), signed=True)}"
        rows.append(
            {
                "name": name,
                "test": test.get("test", ""),
                "delta": f"{test['delta']:+.3f}",
                "detail": detail,
                "p": test.get("p"),
                "p_holm": test.get("p_holm"),
                "regression": test.get("significant_regression", False),
                "improvement": test.get("significant_improvement", False),
            }
        )
    return rows


def _interval(bounds, *, signed: bool = False) -> str:
    if not bounds or bounds[0] is None:
        return "–"
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f"{fmt.format(bounds[0])} – {fmt.format(bounds[1])}"


# --- a case's image ---------------------------------------------------------------------------


def eval_case_thumbnail(*, case: EvalCase) -> bytes:
    """A small JPEG of the case's stored display photo (cases store no thumbnail of their own)."""
    side = ADMIN_THUMBNAIL_SIDE
    with case.image.open("rb") as stored, Image.open(stored) as image:
        image.draft("RGB", (side, side))  # a JPEG decodes at a reduced scale: cheap for 200 rows
        small = image.convert("RGB")
    small.thumbnail((side, side))
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    return out.getvalue()
