"""What the experiment admin pages show, as plain rows for the templates.

The figures come from `experiment_results` (the results dict); this module only words and
formats them, and gathers what the start and ship forms need. No writes here.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.dateparse import parse_datetime

from ai_prefill.rollout import arm_config_parse, arm_eval_evidence, production_config
from experiments.models import Arm, Experiment

RAMP_STEPS = (Decimal(5), Decimal(25), Decimal(50), Decimal(100))
WITHIN = (("60", "1 min"), ("120", "2 min"), ("300", "5 min"))


# --- arms: what they do, and what allows them to start -----------------------------------------


def arm_meaning(payload: dict) -> str:
    """An arm's payload in words: "prompt X on provider/model", "no AI", or "production"."""
    if not payload:
        return f"production (now {production_config().describe()})"
    try:
        return arm_config_parse(payload).describe()
    except ValidationError as exc:
        return " ".join(exc.messages)


def start_checklist(experiment: Experiment) -> list[dict]:
    """Per arm: its configuration and the passed eval run that allows it, or that it needs a
    written reason (an AI arm without one). "No AI" needs no evidence."""
    rows = []
    for arm in experiment.arms.all():
        row = {"arm": arm, "meaning": "", "error": "", "ai": False, "eval_run": None}
        try:
            config = arm_config_parse(arm.payload)
        except ValidationError as exc:
            rows.append({**row, "error": " ".join(exc.messages)})
            continue
        row.update(meaning=arm_meaning(arm.payload), ai=config.enabled)
        if config.enabled:
            run = arm_eval_evidence(config)
            row["eval_run"] = run
            row["eval_run_url"] = (
                reverse("admin:ai_prefill_evalrun_change", args=[run.pk]) if run else ""
            )
        rows.append(row)
    return rows


def ramp_choices(experiment: Experiment) -> list[Decimal]:
    """Only shares above the current one: ramping adds sellers, it never takes them out."""
    return [step for step in RAMP_STEPS if step > experiment.enrollment_percent]


def evidence_url(arm: Arm) -> str:
    run_id = (arm.evidence or {}).get("eval_run")
    return reverse("admin:ai_prefill_evalrun_change", args=[run_id]) if run_id else ""


# --- numbers in words --------------------------------------------------------------------------


def pct(share, digits: int = 1) -> str:
    return "–" if share is None else f"{share * 100:.{digits}f} %"


def rate(cell: dict | None) -> dict:
    """{"value", "n"} as a share and the count behind it."""
    cell = cell or {}
    return {"text": pct(cell.get("value")), "sub": f"n = {cell.get('n') or 0}"}


def seconds(value) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def usd(value) -> str:
    return "–" if value is None else f"${value:.4f}"


def p_value(value) -> str:
    if value is None:
        return "–"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _median_with_ci(survival: dict) -> dict:
    low, high = (survival.get("median_ci") or [None, None])[:2]
    ci = f"95% CI {seconds(low)} to {seconds(high)}"
    return {"text": seconds(survival.get("median_seconds")), "sub": ci}


# --- the results page --------------------------------------------------------------------------


def _plain(value) -> dict:
    return {"text": "–" if value is None else value, "sub": ""}


def metric_rows(results: dict) -> list[dict]:
    """Every metric of every arm, one row per metric, one column per arm."""
    arms = results["arms"]

    def row(label, cell, help_text=""):
        return {"label": label, "help": help_text, "cells": [cell(arm) for arm in arms]}

    survival = [arm.get("time_to_publish") or {} for arm in arms]
    rows = [
        row("sellers", lambda a: _plain(a.get("sellers"))),
        row("sessions", lambda a: _plain(a.get("sessions"))),
        row("published", lambda a: _plain(a.get("published"))),
        row("abandonment", lambda a: rate(a.get("abandonment")), "abandoned / closed sessions"),
        {
            "label": "median time to publish",
            "help": "Kaplan-Meier: abandoned and open sessions count as not yet published",
            "cells": [_median_with_ci(s) for s in survival],
        },
    ]
    for key, words in WITHIN:
        rows.append(
            {
                "label": f"published within {words}",
                "help": "",
                "cells": [
                    _plain(pct((s.get("published_within") or {}).get(key))) for s in survival
                ],
            }
        )
    rows += [
        row("field acceptance", lambda a: rate(a.get("field_acceptance")), "kept as suggested"),
        row("thumbs up", lambda a: rate(a.get("thumbs_up")), "of rated suggestions"),
        row("failures", lambda a: rate(a.get("failures")), "failed or empty drafts, of runs"),
        row("p95 time to draft", lambda a: _plain(seconds(a.get("p95_seconds_to_draft")))),
        row("cost per published listing", lambda a: _plain(usd(a.get("cost_per_published_usd")))),
        row("AI runs", lambda a: _plain(a.get("runs"))),
    ]
    return rows


def comparison_rows(results: dict) -> list[dict]:
    """Each arm against control: the log-rank test, the always-valid decision, abandonment."""
    rows = []
    for arm in results["arms"]:
        versus = arm.get("vs_control")
        if not versus:
            continue
        logrank = versus.get("logrank") or {}
        always = versus.get("always_valid") or {}
        abandon = versus.get("abandonment") or {}
        rows.append(
            {
                "arm": arm["key"],
                "logrank_p": p_value(logrank.get("p_value")),
                "hazard_ratio": _number(logrank.get("hazard_ratio")),
                "always_valid_p": p_value(always.get("p_value")),
                "holm": "significant" if versus.get("holm_reject") else "not significant",
                "abandonment": _difference(abandon),
                "abandonment_p": p_value(abandon.get("p_value")),
            }
        )
    return rows


def _number(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _difference(diff: dict) -> str:
    if diff.get("difference") is None:
        return "–"
    points = diff["difference"] * 100
    low, high = diff.get("ci_low"), diff.get("ci_high")
    interval = "" if low is None else f" (95% CI {low * 100:+.1f} to {high * 100:+.1f})"
    return f"{points:+.1f} points{interval}"


def recommendation_rows(results: dict) -> list[dict]:
    rows = []
    for arm in results["arms"]:
        advice = arm.get("recommendation")
        if not advice:
            continue
        rows.append(
            {
                "arm": arm["key"],
                "action": advice.get("action", ""),
                "reasons": advice.get("reasons") or [],
                "still_needed": advice.get("sessions_still_needed"),
            }
        )
    return rows


def guardrail_rows(results: dict) -> list[dict]:
    return [
        {
            "arm": arm["key"],
            "label": g.get("label") or g.get("metric"),
            "threshold": g.get("threshold"),
            "value": g.get("value"),
            "n": g.get("n"),
            "judged": g.get("judged"),
            "breached": g.get("breached"),
        }
        for arm in results["arms"]
        for g in arm.get("guardrails") or []
    ]


def results_charts(results: dict) -> dict:
    """Data for static/feedback/experiment_charts.js: Kaplan-Meier curves (share published by
    minutes since the form opened) and daily sessions and median time to publish, per arm."""
    curves = [
        {
            "label": arm["key"],
            "data": [
                {"x": round(s / 60, 3), "y": round(share * 100, 2)}
                for s, share in (arm.get("time_to_publish") or {}).get("curve") or []
            ],
        }
        for arm in results["arms"]
    ]
    days = sorted({row["day"] for row in results.get("daily") or []})
    by_arm = {arm["key"]: {} for arm in results["arms"]}
    for row in results.get("daily") or []:
        by_arm.setdefault(row["arm"], {})[row["day"]] = row

    def series(name):
        return [
            {"label": key, "data": [rows.get(day, {}).get(name) for day in days]}
            for key, rows in by_arm.items()
        ]

    return {
        "km": {"datasets": curves, "x_max": _km_window_minutes(curves)},
        "sessions": {"labels": days, "datasets": series("sessions")},
        "median": {"labels": days, "datasets": series("median_seconds")},
    }


def _km_window_minutes(curves: list[dict]) -> float | None:
    """Where the chart's time axis ends: a little after the last publish of any arm. Abandoned
    sessions are censored at the abandonment window (a day), so the curves run flat to there and
    the minutes that matter would be squashed into the first pixels."""
    last_rise = [
        later["x"]
        for curve in curves
        for earlier, later in zip(curve["data"], curve["data"][1:], strict=False)
        if later["y"] > earlier["y"]
    ]
    return round(max(last_rise) * 1.15, 1) if last_rise else None


def sample_size_words(plan: dict) -> dict:
    """The planned sessions per arm and how long current traffic takes to get there."""
    days = plan.get("days_to_reach")
    if days is None:
        duration = "unknown (no sessions in the last 28 days to measure traffic)"
    else:
        duration = f"about {days:.0f} day{'s' if round(days) != 1 else ''} at current traffic"
    return {
        "per_arm": plan.get("per_arm"),
        "duration": duration,
        "assumed": bool(plan.get("assumed")),
        "publish_rate": pct(plan.get("publish_rate"), 0),
        "sd_log_seconds": _number(plan.get("sd_log_seconds")),
        "sessions_per_day": _number(plan.get("sessions_per_day"), 1),
    }


def event_rows(results: dict) -> list[dict]:
    """The audit log, newest first, with its times as datetimes (the template formats them)."""
    return [
        {**event, "at": parse_datetime(event["at"]) if event.get("at") else None}
        for event in results.get("events") or []
    ]
