"""manage.py run_evals end to end: the starter set, the cache, the JSON report, and the gate.

A "good" variant answers each case with its ground truth (the local OpenAI-protocol server
recognises the image it is sent); a deliberately worse variant gets categories wrong, and the
gate must refuse it.
"""

import base64
import hashlib
import json

import pytest
from django.core.management import call_command

from ai_prefill.evals import runner
from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import EvalCase, EvalResult, EvalRun
from ai_prefill.prompt_registry import prompt_version_production, run_params_for
from ai_prefill.providers import model_image_from_photo, provider_request_build
from tests.fake_openai import Behaviour

pytestmark = pytest.mark.django_db

LIMIT = 16


@pytest.fixture
def starter_set():
    starter_cases_load()
    return list(EvalCase.objects.order_by("key")[:LIMIT])


def run_evals(tmp_path, *args) -> tuple[int, dict | None]:
    """Run the command; return its exit code and the JSON report (if one was written)."""
    out_dir = tmp_path / "reports"
    with pytest.raises(SystemExit) as exit_info:
        call_command("run_evals", "--format", "json", "--output-dir", str(out_dir), *args)
    reports = sorted(out_dir.glob("eval-run-*.json"), key=lambda p: p.stat().st_mtime)
    return exit_info.value.code, (json.loads(reports[-1].read_text()) if reports else None)


def answers_by_image(cases, mutate=lambda case, draft: draft):
    """A fake-server answer function: the ground truth of whichever case's image it receives."""
    version = prompt_version_production()
    table = {}
    for case in cases:
        with case.image.open("rb") as f:
            params = run_params_for(version)
            request = provider_request_build(
                image=model_image_from_photo(f.read(), params),
                prompt_version=version,
                model="m",
                params=params,
            )
        table[hashlib.sha256(request.image.jpeg).hexdigest()] = mutate(case, case.expected())

    def answer(body):
        url = body["input"][0]["content"][1]["image_url"]
        return table[hashlib.sha256(base64.b64decode(url.split(",", 1)[1])).hexdigest()]

    return answer


def test_baseline_on_the_starter_set_passes_and_reports_every_case(starter_set, tmp_path):
    assert EvalCase.objects.count() >= 30
    assert {c.expected_category for c in EvalCase.objects.all()} >= {"bikes", "other", "fashion"}
    code, report = run_evals(tmp_path, "--provider", "baseline")
    assert code == 0, report["gate"]
    assert report["schema_version"] == 2
    assert report["run"]["provider"] == "baseline" and report["run"]["model"] == "baseline"
    assert report["run"]["prompt_version"] == prompt_version_production().label
    assert len(report["cases"]) == EvalCase.objects.count() == report["metrics"]["n"]
    case = report["cases"][0]
    assert set(case) >= {"id", "key", "image_path", "expected", "output", "scores", "all_correct"}
    assert set(report["metrics"]["fields"]["color"]) >= {"score", "ci", "accuracy", "accuracy_ci"}
    assert report["gate"] == {"passed": True, "reasons": []}


def test_a_rerun_is_served_from_the_cache_and_errors_are_not_cached(
    starter_set, tmp_path, fake_openai
):
    fake_openai.default = Behaviour.success(draft=answers_by_image(starter_set))
    fake_openai.script(Behaviour.server_error(500))  # one case fails on the first run
    first_code, first = run_evals(
        tmp_path, "--provider", "openai", "--limit", str(LIMIT), "--baseline", "none"
    )
    assert first["metrics"]["failures"]["count"] == 1, "a failure is scored, never dropped"
    assert first["metrics"]["n"] == LIMIT
    calls = fake_openai.counts["/v1/responses"]
    assert calls == LIMIT

    _, second = run_evals(
        tmp_path, "--provider", "openai", "--limit", str(LIMIT), "--baseline", "none"
    )
    assert second["metrics"]["cached"] == LIMIT - 1
    assert fake_openai.counts["/v1/responses"] == calls + 1, "only the failed case is asked again"
    assert second["metrics"]["failures"]["count"] == 0


def test_a_deliberately_worse_variant_fails_the_gate(starter_set, tmp_path, fake_openai):
    fake_openai.default = Behaviour.success(draft=answers_by_image(starter_set))
    good_code, good = run_evals(
        tmp_path, "--provider", "openai", "--limit", str(LIMIT), "--baseline", "none"
    )
    assert good_code == 0, good["gate"]

    def wrong_category(case, draft):
        return {**draft, "category": "other" if draft["category"] != "other" else "bikes"}

    fake_openai.default = Behaviour.success(draft=answers_by_image(starter_set, wrong_category))
    code, worse = run_evals(
        tmp_path, "--provider", "openai", "--limit", str(LIMIT), "--model", "worse-model",
        "--baseline", str(good["run"]["id"]),
    )  # fmt: skip
    assert code == 1
    category = worse["comparison"]["fields"]["category"]
    assert category["significant_regression"] and category["delta"] < -0.5
    assert any("category regressed" in reason for reason in worse["gate"]["reasons"])
    assert len(worse["comparison"]["newly_failing"]) >= LIMIT - 1
    assert worse["comparison"]["fields"]["color"]["significant_regression"] is False


def test_a_failed_must_pass_case_fails_the_gate(starter_set, tmp_path, fake_openai):
    must_pass = EvalCase.objects.filter(must_pass=True).first()
    assert must_pass is not None
    cases = list(EvalCase.objects.all())

    def break_must_pass(case, draft):
        return {**draft, "condition": "for-parts"} if case.pk == must_pass.pk else draft

    fake_openai.default = Behaviour.success(draft=answers_by_image(cases, break_must_pass))
    code, report = run_evals(tmp_path, "--provider", "openai", "--baseline", "none")
    assert code == 1
    assert any(must_pass.key in reason for reason in report["gate"]["reasons"])


def test_repeats_and_tags_select_what_runs(starter_set, tmp_path, monkeypatch):
    prepared = []

    def counting(photo, params):
        prepared.append(photo)
        return model_image_from_photo(photo, params)

    monkeypatch.setattr(runner, "model_image_from_photo", counting)
    code, report = run_evals(
        tmp_path, "--provider", "baseline", "--tags", "sports-outdoors", "--repeats", "2"
    )
    balls = EvalCase.objects.filter(expected_category="sports-outdoors").count()
    assert code == 0 and report["metrics"]["n"] == 2 * balls
    assert len(prepared) == balls, "the repeats of a case share one prepared image"
    assert {c["repeat"] for c in report["cases"]} == {0, 1}
    assert report["metrics"]["slices"]["sports-outdoors"]["n"] == 2 * balls


def test_a_case_whose_image_cannot_be_read_fails_alone(starter_set, tmp_path):
    lost = starter_set[0]
    lost.image.storage.delete(lost.image.name)
    code, report = run_evals(
        tmp_path, "--provider", "baseline", "--limit", str(LIMIT), "--concurrency", "4"
    )
    by_key = {case["key"]: case for case in report["cases"]}
    assert len(by_key) == LIMIT, "a failure is scored, never dropped"
    assert by_key[lost.key]["error"]["type"] == "internal"
    assert by_key[lost.key]["latency_ms"] is None, "the provider was never called"
    assert report["metrics"]["failures"]["count"] == 1
    assert all(case["output"] for key, case in by_key.items() if key != lost.key)
    assert code != 2, "one unreadable image does not break the run"
    assert EvalRun.objects.get(pk=report["run"]["id"]).status == "completed"


def test_reports_that_cannot_be_written_are_a_broken_run_not_a_failed_gate(
    starter_set, tmp_path, capsys
):
    blocked = tmp_path / "reports"
    blocked.write_text("a file where the report folder should be")
    code, _ = run_evals(tmp_path, "--provider", "baseline", "--limit", "2", "--baseline", "none")
    assert code == 2
    assert "could not write the reports" in capsys.readouterr().err


def test_a_broken_run_exits_2(starter_set, tmp_path):
    assert run_evals(tmp_path, "--prompt-version", "no-such-prompt")[0] == 2
    assert run_evals(tmp_path, "--provider", "nobody")[0] == 2
    assert run_evals(tmp_path, "--tags", "no-such-tag")[0] == 2
    assert run_evals(tmp_path, "--baseline", "999999")[0] == 2
    assert EvalRun.objects.filter(status="broken").exists()


def test_auto_baseline_is_the_last_production_run_on_the_same_dataset(starter_set, tmp_path):
    _, first = run_evals(tmp_path, "--provider", "baseline")
    _, second = run_evals(tmp_path, "--provider", "baseline")
    assert first["run"]["baseline_run"] is None
    assert second["run"]["baseline_run"] == first["run"]["id"]
    assert second["comparison"]["n_paired"] == first["metrics"]["n"]
    _, tagged = run_evals(tmp_path, "--provider", "baseline", "--tags", "bikes")
    assert tagged["run"]["baseline_run"] is None, "another dataset version is not compared"
    assert (
        EvalResult.objects.filter(run_id=second["run"]["id"], cached=True).count()
        == first["metrics"]["n"]
    )


def test_the_gate_says_which_gates_it_checked_and_which_fields_it_did_not(
    starter_set, tmp_path, capsys
):
    code, report = run_evals(tmp_path, "--provider", "baseline", "--baseline", "none")
    assert code == 0, report["gate"]
    out = capsys.readouterr().out
    colour = report["metrics"]["fields"]["color"]["score"]
    assert "gates checked (gates.toml [baseline])" in out
    assert "must-pass cases" in out and "color must be right" in out
    assert f"floor color >= 0.50: scored {colour:.3f} (ok)" in out
    assert "regressions: not checked (no baseline run to compare with)" in out
    assert (
        "not gated for this provider: title, description, category, condition, brand, "
        "price_eur" in out
    )
