"""The HTML eval report: a self-contained page a reviewer can read, regressions first."""

import re

import pytest

from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import EvalCase
from ai_prefill.tests.test_run_evals import answers_by_image, run_evals
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.django_db

LIMIT = 4


def test_the_html_report_shows_photos_fields_and_regressions_first(tmp_path, fake_openai):
    starter_cases_load()
    cases = list(EvalCase.objects.order_by("key")[:LIMIT])
    regressed = cases[2]
    fake_openai.default = Behaviour.success(draft=answers_by_image(cases))
    _, good = run_evals(
        tmp_path, "--provider", "openai", "--limit", str(LIMIT), "--baseline", "none"
    )

    def wrong_brand_on_one(case, draft):
        return {**draft, "brand": "Acme"} if case.pk == regressed.pk else draft

    fake_openai.default = Behaviour.success(draft=answers_by_image(cases, wrong_brand_on_one))
    _, worse = run_evals(
        tmp_path, "--provider", "openai", "--limit", str(LIMIT), "--model", "worse",
        "--baseline", str(good["run"]["id"]), "--format", "json,html",
    )  # fmt: skip
    assert worse["comparison"]["newly_failing"] == [regressed.key]
    html = (tmp_path / "reports" / f"eval-run-{worse['run']['id']}.html").read_text()

    assert html.count('src="data:image/jpeg;base64,') == LIMIT, "one embedded photo per case"
    assert "<script" not in html and "{'" not in html, "no scripts, no Python dicts"
    first_case = html.index('<details class="case')
    assert html.index("Newly failing") < first_case < html.index(regressed.key)
    assert all(html.index(regressed.key) < html.index(other.key) for other in cases[:2])
    opened = re.search(r'<details class="case regression" open>.*?</details>', html, re.S).group()
    assert regressed.key in opened
    brand_row = re.search(r'<tr class="wrong">.*?brand.*?</tr>', opened, re.S).group()
    assert (
        "was right" in brand_row and "Acme" in brand_row and regressed.expected_brand in brand_row
    )
    assert html.count('<details class="case">') == LIMIT - 1, "the unchanged cases are folded"
