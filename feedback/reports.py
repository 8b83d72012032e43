"""The feedback report's two shells around feedback_report(): the parameters and the CSV.

Both the staff API and the admin page read their parameters through ReportParamsForm, so a date
range or grouping means the same thing (and fails with the same message) in both.
"""

import csv
import io
from datetime import timedelta

from django import forms
from django.utils import timezone

from .selectors import GROUP_BY_CHOICES, MAX_RANGE_DAYS, TIME_BUCKETS

DEFAULT_DAYS = 30
DEFAULT_GROUP_BY = "variant"


class ReportParamsForm(forms.Form):
    """start/end (YYYY-MM-DD, inclusive) and group_by; defaults: the last 30 days, by variant."""

    start = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    end = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    group_by = forms.ChoiceField(choices=list(GROUP_BY_CHOICES.items()), required=False)

    def __init__(self, data=None, **kwargs):
        super().__init__(data if data is not None else {}, **kwargs)
        for name in ("start", "end"):
            self.fields[name].widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["start"].error_messages["invalid"] = "start: use a date as YYYY-MM-DD."
        self.fields["end"].error_messages["invalid"] = "end: use a date as YYYY-MM-DD."

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or timezone.localdate()
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if end < start:
            raise forms.ValidationError("end must be on or after start.")
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise forms.ValidationError(f"The range may span at most {MAX_RANGE_DAYS} days.")
        data.update(start=start, end=end, group_by=data.get("group_by") or DEFAULT_GROUP_BY)
        return data


def report_csv_rows(report: dict) -> list[list]:
    """One row per group: the headline figures, then acceptance and n per field."""
    fields = report["fields"]
    header = [
        "group", "runs", "succeeded", "failed", "failure_rate", "published", "abandoned",
        "abandonment_rate", "thumbs_up", "thumbs_down", "thumbs_up_rate", "acceptance_rate",
        "fields_changed", "late_corrections", "published_with_time", "median_seconds_to_publish",
        *(f"time_{key}" for key, *_ in TIME_BUCKETS),
        *(f"{name}_{what}" for name in fields for what in ("acceptance", "similarity", "n")),
    ]  # fmt: skip
    rows = [header]
    for group in report["groups"]:
        time = group["time_to_publish"]
        rows.append(
            [
                group["label"], group["runs"], group["succeeded"], group["failed"],
                group["failure_rate"]["value"], group["published"], group["abandoned"],
                group["abandonment_rate"]["value"], group["thumbs_up"], group["thumbs_down"],
                group["thumbs_up_rate"]["value"], group["acceptance_rate"]["value"],
                group["fields_changed"], group["late_corrections"], time["n"],
                time["median_seconds"],
                *(time["distribution"][key] for key, *_ in TIME_BUCKETS),
                *(
                    group["fields"][name][what]
                    for name in fields
                    for what in ("acceptance_rate", "mean_similarity", "n")
                ),
            ]
        )  # fmt: skip
    return rows


def report_csv(report: dict) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in report_csv_rows(report):
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def report_csv_filename(report: dict) -> str:
    return f"feedback-{report['group_by']}-{report['start']}-{report['end']}.csv"


def _cell(value):
    """Empty for no value; text that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# --- the admin page: charts and tables from the report ------------------------------------------

PALETTE = ("#3b82c4", "#e8833a", "#3a9e5c", "#c94a4a", "#8a64c0", "#8c6a4f", "#d46fb0", "#7a7a7a")


def report_charts(report: dict) -> dict:
    """Chart.js data (labels, datasets), plus the n behind every bar for the tooltips."""
    groups, fields = report["groups"], report["fields"]
    labels = [_chart_label(g["label"]) for g in groups]

    def rate_series(label, color, rates):
        return {
            "label": label,
            "backgroundColor": color,
            "borderColor": color,
            "data": [_percent(r["value"]) for r in rates],
            "n": [r["n"] for r in rates],
        }

    acceptance = [
        {
            "label": name,
            "backgroundColor": PALETTE[i % len(PALETTE)],
            "borderColor": PALETTE[i % len(PALETTE)],
            "data": [_percent(g["fields"][name]["acceptance_rate"]) for g in groups],
            "n": [g["fields"][name]["n"] for g in groups],
        }
        for i, name in enumerate(fields)
    ]
    thumbs_and_abandonment = [
        rate_series("thumbs-up rate", PALETTE[2], [g["thumbs_up_rate"] for g in groups]),
        rate_series("abandonment rate", PALETTE[3], [g["abandonment_rate"] for g in groups]),
        rate_series("failure rate", PALETTE[7], [g["failure_rate"] for g in groups]),
    ]
    # By day, groups are a time series: lines read better than 30 clusters of 7 bars.
    kind = "line" if report["group_by"] == "day" else "bar"
    return {
        "acceptance": {"type": kind, "labels": labels, "datasets": acceptance},
        "rates": {"type": kind, "labels": labels, "datasets": thumbs_and_abandonment},
        "daily": _daily_chart(report["daily"]),
        "time": _time_chart(report),
    }


def _chart_label(label: str) -> list[str]:
    """A variant's label on two lines (Chart.js draws a list as lines): prompt, then model."""
    return label.split(" · ")


def _daily_chart(daily: list[dict]) -> dict:
    series = (("runs", 0), ("published", 2), ("abandoned", 3), ("failed", 7))
    return {
        "labels": [d["day"] for d in daily],
        "datasets": [
            {
                "label": name,
                "data": [d[name] for d in daily],
                "borderColor": PALETTE[color],
                "backgroundColor": PALETTE[color],
            }
            for name, color in series
        ],
    }


def _time_chart(report: dict) -> dict:
    """Share of published runs per bucket: one series per group, or all together by day."""
    buckets = report["time_buckets"]
    per_group = report["group_by"] != "day" and len(report["groups"]) <= len(PALETTE)
    sources = report["groups"] if per_group else [{**report["totals"], "label": "all runs"}]
    datasets = []
    for i, source in enumerate(sources):
        time = source["time_to_publish"]
        counts = [time["distribution"][b["key"]] for b in buckets]
        datasets.append(
            {
                "label": source["label"],
                "backgroundColor": PALETTE[i % len(PALETTE)],
                "data": [_percent(c / time["n"]) if time["n"] else None for c in counts],
                "counts": counts,
                "n": [time["n"]] * len(buckets),
            }
        )
    return {"labels": [b["label"] for b in buckets], "datasets": datasets}


def report_field_rows(report: dict) -> list[dict]:
    """Per group, per field: acceptance, mean similarity, late corrections and n, for a table."""
    return [
        {
            "label": g["label"],
            "cells": [
                {
                    **g["fields"][name],
                    "acceptance_pct": _percent(g["fields"][name]["acceptance_rate"]),
                }
                for name in report["fields"]
            ],
        }
        for g in [*report["groups"], {**report["totals"], "label": "All"}]
    ]


def report_time_rows(report: dict) -> list[dict]:
    return [
        {
            "label": g["label"],
            "n": g["time_to_publish"]["n"],
            "median": duration_text(g["time_to_publish"]["median_seconds"]),
            "counts": [
                g["time_to_publish"]["distribution"][b["key"]] for b in report["time_buckets"]
            ],
        }
        for g in [*report["groups"], {**report["totals"], "label": "All"}]
    ]


def report_headline_rows(report: dict) -> list[dict]:
    """The headline figures per group (and all together), each rate with its count and n."""
    rows = []
    for g in [*report["groups"], {**report["totals"], "label": "All", "total": True}]:
        rows.append(
            {
                **g,
                "failure": rate_text(g["failure_rate"]),
                "abandonment": rate_text(g["abandonment_rate"]),
                "thumbs_up_text": rate_text(g["thumbs_up_rate"]),
                "acceptance": rate_text(g["acceptance_rate"]),
                "median": duration_text(g["time_to_publish"]["median_seconds"]),
            }
        )
    return rows


def rate_text(rate: dict) -> dict:
    """{"pct": "37.5 %", "of": "3 / 8"}: the rate and what it was computed from."""
    if rate["value"] is None:
        return {"pct": "–", "of": "n = 0"}
    return {"pct": f"{rate['value'] * 100:.1f} %", "of": f"{rate['count']} / {rate['n']}"}


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)
