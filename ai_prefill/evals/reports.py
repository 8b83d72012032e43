"""Eval run reports: JSON (the stable, documented format), table, Markdown, JUnit and HTML.

Every format is built from `report_data(run)`; see docs/evals.md for the JSON schema.
"""

import json
from pathlib import Path
from xml.etree import ElementTree as ET

from django.template.loader import render_to_string
from rich.console import Console
from rich.table import Table

from ..image_prep import image_prepare_for_model
from ..models import EvalRun
from .changes import FIX, REGRESSION, UNCHANGED, correct_by_field, field_change, item_change
from .scoring import FIELDS

FORMATS = ("table", "json", "markdown", "junit", "html")
SCHEMA_VERSION = 2  # 2: newly_failing / newly_fixed by evals/changes.py (was: all correct)


def report_data(run: EvalRun) -> dict:
    results = run.results.select_related("case").order_by("case__key", "repeat")
    return {
        "schema_version": SCHEMA_VERSION,
        "run": {
            "id": run.pk,
            "status": run.status,
            "created_at": run.created_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "prompt_version": run.prompt_version.label,
            "prompt_hash": run.prompt_version.content_hash,
            "provider": run.provider,
            "model": run.model,
            "params": run.params,
            "dataset_version": run.dataset_version,
            "tags": run.tags,
            "limit": run.limit,
            "repeats": run.repeats,
            "case_count": run.case_count,
            "baseline_run": run.baseline_id,
        },
        "metrics": run.metrics,
        "comparison": run.comparison or None,
        "gate": {"passed": run.gate_passed, "reasons": run.gate_reasons},
        "cases": [_case(result) for result in results],
    }


def _case(result) -> dict:
    return {
        "id": result.case_id,
        "key": result.case.key,
        "repeat": result.repeat,
        "image_path": result.case.image.name,
        "tags": result.case.tags,
        "must_pass": result.case.must_pass,
        "expected": result.expected,
        "output": result.output,
        "error": {"type": result.error_type, "message": result.error_message}
        if result.error_type
        else None,
        "scores": {name: result.scores[name] for name in FIELDS},
        "all_correct": result.all_correct,
        "latency_ms": result.latency_ms,
        "cached": result.cached,
        "cost_usd": float(result.cost_usd) if result.cost_usd is not None else None,
    }


def reports_write(
    run: EvalRun, formats: list[str], output_dir: Path, console: Console
) -> list[Path]:
    data = report_data(run)
    output_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        if fmt == "table":
            console.print(_table(data))
            continue
        path = output_dir / f"eval-run-{run.pk}.{_EXTENSIONS[fmt]}"
        text = html_report(run, data) if fmt == "html" else _WRITERS[fmt](data)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False)


def _table(data: dict) -> Table:
    run, metrics, comparison = data["run"], data["metrics"], data["comparison"] or {}
    table = Table(title=f"Eval run {run['id']}: {_headline(data)}")
    for column in ("field", "score", "95% CI", "accuracy", "vs baseline", "p (Holm)"):
        table.add_column(column, justify="right" if column != "field" else "left")
    for name in FIELDS:
        field = metrics["fields"][name]
        test = comparison.get("fields", {}).get(name)
        table.add_row(
            name,
            f"{field['score']:.3f}",
            f"{field['ci'][0]:.2f}–{field['ci'][1]:.2f}",
            f"{field['accuracy']:.2f}",
            f"{test['delta']:+.3f}" if test else "–",
            f"{test['p_holm']:.3f}" if test else "–",
        )
    table.caption = _summary(data)
    return table


def _headline(data: dict) -> str:
    run = data["run"]
    return (
        f"{run['prompt_version']} · {run['provider']}/{run['model']} · "
        f"dataset {run['dataset_version']} · n={data['metrics']['n']} · "
        f"baseline run {run['baseline_run'] or 'none'}"
    )


def _summary(data: dict) -> str:
    metrics, gate = data["metrics"], data["gate"]
    lines = [
        f"all fields correct: {metrics['all_correct']['rate']:.2f}"
        f" · failures: {metrics['failures']['count']}"
        f" · invented brands: {metrics['invented_brand']['count']} · cached: {metrics['cached']}"
        f" · cost ${metrics['cost_usd']['total']:.4f}"
        f" · p50 latency {metrics['latency_ms']['p50']} ms",
        "GATE PASSED" if gate["passed"] else "GATE FAILED: " + "; ".join(gate["reasons"]),
    ]
    return "\n".join(lines)


def _markdown(data: dict) -> str:
    run, metrics, comparison = data["run"], data["metrics"], data["comparison"] or {}
    out = [
        f"# Eval run {run['id']}",
        "",
        _headline(data),
        "",
        "| field | score | 95% CI | accuracy | Δ vs baseline | p (Holm) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in FIELDS:
        field = metrics["fields"][name]
        test = comparison.get("fields", {}).get(name)
        delta = f"{test['delta']:+.3f}" if test else "–"
        p = f"{test['p_holm']:.3f}" if test else "–"
        out.append(
            f"| {name} | {field['score']:.3f} | {field['ci'][0]:.2f}–{field['ci'][1]:.2f} | "
            f"{field['accuracy']:.2f} | {delta} | {p} |"
        )
    out += ["", _summary(data).replace("\n", "\n\n")]
    if comparison:
        out += ["", f"Newly failing: {', '.join(comparison['newly_failing']) or 'none'}",
                "", f"Newly fixed: {', '.join(comparison['newly_fixed']) or 'none'}"]  # fmt: skip
    return "\n".join(out) + "\n"


def _junit(data: dict) -> str:
    cases = data["cases"]
    suite = ET.Element("testsuite", name=f"evals.run{data['run']['id']}", tests=str(len(cases) + 1))
    failures = 0
    for case in cases:
        element = ET.SubElement(
            suite, "testcase", classname="evals", name=f"{case['key']}#{case['repeat']}"
        )
        wrong = [name for name in FIELDS if not case["scores"][name]["correct"]]
        if case["must_pass"] and (case["error"] or wrong):
            failures += 1
            failure = ET.SubElement(element, "failure", message="must-pass case failed")
            failure.text = json.dumps(
                {"error": case["error"], "wrong": wrong, "output": case["output"]}
            )
        else:
            ET.SubElement(
                element, "system-out"
            ).text = f"wrong fields: {', '.join(wrong) or 'none'}"
    gate = ET.SubElement(suite, "testcase", classname="evals", name="gate")
    if not data["gate"]["passed"]:
        failures += 1
        ET.SubElement(gate, "failure", message="gate failed").text = "\n".join(
            data["gate"]["reasons"]
        )
    suite.set("failures", str(failures))
    return ET.tostring(suite, encoding="unicode")


THUMBNAIL_SIDE = 96
# Case sections of the HTML report, in the order a reviewer needs them.
SECTIONS = (
    ("regressions", "Newly failing: a field that was right in the baseline run is wrong now"),
    ("must_pass", "Must-pass cases with a wrong field"),
    ("wrong", "Other cases with a wrong field"),
    ("fixed", "Newly fixed"),
    ("correct", "All fields correct"),
)


def html_report(run: EvalRun, data: dict) -> str:
    """A self-contained page: a photo per case (data: URI), expected vs output per field with
    the wrong ones marked, regressions first (evals/changes.py), every case folded in <details>."""
    results = list(run.results.select_related("case"))
    baseline = _baseline_correct(run, results)
    cases = {r.case_id: r.case for r in results}  # one thumbnail per case, whatever the repeats
    thumbnails = {case_id: _thumbnail(case) for case_id, case in cases.items()}
    sections = {name: [] for name, _ in SECTIONS}
    for case in data["cases"]:
        view = _case_view(case, baseline.get((case["id"], case["repeat"])))
        view["thumbnail"] = thumbnails[case["id"]]
        sections[_section(case, view["change"])].append(view)
    context = {
        "data": data,
        "fields": FIELDS,
        "sections": [
            {"name": name, "title": title, "cases": sections[name]}
            for name, title in SECTIONS
            if sections[name]
        ],
    }
    return render_to_string("ai_prefill/eval_report.html", context)


def _baseline_correct(run: EvalRun, results) -> dict[tuple[int, int], dict[str, bool]]:
    """(case id, repeat) -> field -> correct in the baseline run, for the items both runs share
    (paired by case content hash and repeat, as the comparison pairs them)."""
    if run.baseline_id is None:
        return {}
    theirs = {(r.case_hash, r.repeat): r.scores for r in run.baseline.results.all()}
    return {
        (r.case_id, r.repeat): correct_by_field(theirs[(r.case_hash, r.repeat)])
        for r in results
        if (r.case_hash, r.repeat) in theirs
    }


def _case_view(case: dict, before: dict[str, bool] | None) -> dict:
    after = {name: bool(case["scores"][name]["correct"]) for name in FIELDS}
    output = case["output"] or {}
    rows = []
    for name in FIELDS:
        change = (
            field_change(before_correct=before[name], after_correct=after[name])
            if before
            else UNCHANGED
        )
        rows.append(
            {
                "name": name,
                "expected": _shown(case["expected"].get(name)),
                "output": _shown(output.get(name)) if case["output"] is not None else "",
                "correct": after[name],
                "score": case["scores"][name]["score"],
                "note": case["scores"][name].get("note") or "",
                "change": change,
            }
        )
    return {
        **case,
        "rows": rows,
        "wrong": [name for name in FIELDS if not after[name]],
        "change": item_change(before=before, after=after) if before else UNCHANGED,
    }


def _section(case: dict, change: str) -> str:
    if change == REGRESSION:
        return "regressions"
    if case["all_correct"] and not case["error"]:
        return "fixed" if change == FIX else "correct"
    if case["must_pass"]:
        return "must_pass"
    return "fixed" if change == FIX else "wrong"


def _shown(value) -> str:
    return "" if value is None else str(value)


def _thumbnail(case) -> str | None:
    """The case's photo as a small JPEG data: URI, or None when it cannot be read."""
    try:
        with case.image.open("rb") as f:
            data = f.read()
        return image_prepare_for_model(data, max_side=THUMBNAIL_SIDE, quality=70).data_url
    except (OSError, ValueError):
        return None


_WRITERS = {"json": _json, "markdown": _markdown, "junit": _junit}
_EXTENSIONS = {"json": "json", "markdown": "md", "junit": "junit.xml", "html": "html"}
