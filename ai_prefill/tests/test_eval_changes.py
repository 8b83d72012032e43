"""One definition of a regression: the run's reports and the admin compare page agree.

Before, the report's "Newly failing" listed only cases that were all correct before and are not
now, while the compare page called a case a regression as soon as any field went from right to
wrong: for the same two runs one said "none" and the other listed the case.
"""

import pytest
from django.core.files.base import ContentFile

from ai_prefill.evals.analysis import comparison_build
from ai_prefill.evals.changes import FIX, GROUPS, REGRESSION, UNCHANGED, item_change
from ai_prefill.evals.comparison_view import eval_runs_compare
from ai_prefill.evals.scoring import FIELDS
from ai_prefill.models import EvalCase, EvalResult, EvalRun
from ai_prefill.prompt_registry import prompt_version_production

pytestmark = pytest.mark.django_db


def _correct(*wrong: str) -> dict[str, bool]:
    return {name: name not in wrong for name in FIELDS}


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        (_correct("brand"), _correct("brand", "color"), REGRESSION),  # was not all correct
        (_correct("brand"), _correct("color"), REGRESSION),  # fixed one, broke another
        (_correct("brand"), _correct(), FIX),
        (_correct("brand"), _correct("brand"), UNCHANGED),
    ],
)
def test_an_item_changes_by_its_fields(before, after, change):
    assert item_change(before=before, after=after) == change


def _case(key: str) -> EvalCase:
    case = EvalCase(key=key, expected_category="bikes", expected_condition="good")
    case.image.save(f"{key}.jpg", ContentFile(b"not read here"), save=False)
    case.save()
    return case


def _run(results: dict[EvalCase, dict[str, bool]]) -> EvalRun:
    run = EvalRun.objects.create(
        prompt_version=prompt_version_production(), provider="baseline", model="m",
        dataset_version="d1", status="finished",
    )  # fmt: skip
    for case, correct in results.items():
        EvalResult.objects.create(
            run=run, case=case, case_hash=case.key, expected={}, output={},
            scores={n: {"score": float(ok), "correct": ok} for n, ok in correct.items()},
            all_correct=all(correct.values()),
        )  # fmt: skip
    return run


def test_the_report_and_the_compare_page_list_the_same_regressions_and_fixes():
    worse, better, same = _case("worse"), _case("better"), _case("same")
    before = _run({worse: _correct("brand"), better: _correct("price_eur"), same: _correct()})
    after = _run({worse: _correct("brand", "color"), better: _correct(), same: _correct()})

    page = eval_runs_compare(run_a=before, run_b=after)
    listed = {group: {p.case.key for p in page.pairs if p.group == group} for group in GROUPS}
    report = comparison_build(
        results=list(after.results.select_related("case")),
        baseline_results=list(before.results.select_related("case")),
        baseline_run_id=before.pk, alpha=0.05, min_effect=0.02,
    )  # fmt: skip

    assert report["newly_failing"] == sorted(listed[REGRESSION]) == ["worse"]
    assert report["newly_fixed"] == sorted(listed[FIX]) == ["better"]
