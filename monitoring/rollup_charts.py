"""The dashboard's panels as Chart.js data (carried by json_script, drawn by a static file), each
series with its figure for the whole window, which the page shows in a table beside the chart."""

from collections.abc import Callable

from django.utils.html import format_html
from django.utils.safestring import mark_safe

from .rollup_dashboard import LATENCIES, QUANTILES
from .rollup_models import MetricBucket

Size = MetricBucket.Size
LABEL_FORMATS = {Size.MINUTE: "%H:%M", Size.HOUR: "%m-%d %H:00", Size.DAY: "%Y-%m-%d"}


def _pct(value):
    return None if value is None else round(100 * value, 2)


def _num(value, digits=4):
    return None if value is None else round(value, digits)


class _Panels:
    """Builds panels whose series read the same figures from every point and from the totals
    (both have the shape of rollup_dashboard.figures)."""

    def __init__(self, data: dict):
        self.points, self.totals = data["points"], data["totals"]
        self.panels: list[dict] = []

    def add(self, key: str, title: str, kind: str, series: list[dict], **options) -> None:
        self.panels.append({"id": f"chart-{key}", "title": title, "type": kind, "unit": "",
                            "stacked": False, "datasets": series, **options})  # fmt: skip

    def series(self, label: str, get: Callable[[dict], object], **extra) -> dict:
        data = [get(point) for point in self.points]
        return {"label": label, "data": data, "total": get(self.totals), **extra}


def dashboard_panels(data: dict) -> list[dict]:
    p = _Panels(data)
    s = p.series
    p.add("runs", "Pre-fills per bucket", "bar", [s("runs", lambda f: f["runs"])])
    outcome_series = [
        s(name, lambda f, n=name: _pct(f["outcome_shares"].get(n)), url=data["outcome_urls"][name])
        for name in data["outcomes"]
    ]
    p.add("outcomes", "Outcome shares", "bar", outcome_series, unit="%", stacked=True)
    empty = [s("no usable draft (of runs)", lambda f: _pct(f["no_usable_draft_share"]))]
    for name in p.totals["empty_shares"]:
        empty.append(s(f"{name} empty (of drafts)", lambda f, n=name: _pct(f["empty_shares"][n])))
    p.add("empty", "No usable draft and empty fields", "line", empty, unit="%")
    for key, (_, title) in LATENCIES.items():
        quantiles = [s(q, lambda f, k=key, q=q: _num(f["latency"][k][q], 3)) for q in QUANTILES]
        p.add(f"latency-{key}", f"Latency: {title}", "line", quantiles, unit="s")
    p.add("retries", "Retries per run", "line",
          [s("retries per run", lambda f: _num(f["retries_per_run"]))])  # fmt: skip
    p.add("tokens", "Tokens", "bar", [s("input", lambda f: f["input_tokens"]),
                                      s("output", lambda f: f["output_tokens"])])  # fmt: skip
    cost = [
        s("per run", lambda f: _num(f["cost_per_run"], 6)),
        s("per published listing", lambda f: _num(f["cost_per_published"], 6)),
        s("total", lambda f: _num(f["cost_usd"], 6), hidden=True),
    ]
    p.add("cost", "Cost per run and per published listing (USD)", "line", cost, unit="$")
    business = [
        s("thumbs down (of thumbs)", lambda f: _pct(f["thumbs_down_share"])),
        s("abandonment (of decided sessions)", lambda f: _pct(f["abandonment"])),
    ]
    p.add("thumbs", "Thumbs-down share and abandonment", "line", business, unit="%")
    corrections = [
        s(name, lambda f, n=name: _pct(f["correction_shares"][n]))
        for name in p.totals["correction_shares"]
    ]
    p.add("corrections", "Per-field correction share (at publish)", "line", corrections, unit="%")
    return p.panels


def daily_cost_panel(data: dict) -> dict:
    days = data["daily_cost"]
    series = {"label": "cost", "data": [_num(d["cost_usd"], 6) for d in days],
              "total": _num(data["totals"]["cost_usd"], 6)}  # fmt: skip
    return {"id": "chart-cost-per-day", "title": "Cost per day (USD, UTC days)", "type": "bar",
            "unit": "$", "stacked": False, "datasets": [series],
            "labels": [d["day"] for d in days]}  # fmt: skip


def chart_data(data: dict) -> dict:
    """What dashboard_charts.js draws: labels and links per bucket, and the panels."""
    fmt = LABEL_FORMATS[data["size"]]
    return {
        "labels": [point["start"].strftime(fmt) for point in data["points"]],
        "links": [point["runs_url"] for point in data["points"]],
        "panels": [*dashboard_panels(data), daily_cost_panel(data)],
    }


TABLE_COLUMNS = (
    "runs", "no usable draft %", "upload→draft p95 s", "queue wait p95 s", "provider p95 s",
    "retries / run", "tokens in", "tokens out", "cost $", "cost / run $", "published",
    "cost / published $", "abandonment %", "👍", "👎", "👎 %",
)  # fmt: skip


def _cell(value) -> str:
    return "—" if value is None else str(value)


def _row(f: dict) -> list[str]:
    latency = f["latency"]
    values = (
        f["runs"], _pct(f["no_usable_draft_share"]), _num(latency["upload_to_draft"]["p95"], 3),
        _num(latency["queue_wait"]["p95"], 3), _num(latency["provider"]["p95"], 3),
        _num(f["retries_per_run"], 3), f["input_tokens"], f["output_tokens"],
        _num(f["cost_usd"], 4), _num(f["cost_per_run"], 6), f["published"],
        _num(f["cost_per_published"], 6), _pct(f["abandonment"]), f["ratings_up"],
        f["ratings_down"], _pct(f["thumbs_down_share"]),
    )  # fmt: skip
    return [_cell(value) for value in values]


def _row_html(label: str, url: str, figures: dict, css: str = "") -> str:
    # The cells are numbers or a dash, made by _row: nothing in them to escape.
    cells = "".join(f'<td class="num">{cell}</td>' for cell in _row(figures))
    head = format_html('<tr class="{}"><th><a href="{}">{}</a></th>', css, url, label)
    return f"{head}{cells}</tr>"


def bucket_rows_html(data: dict) -> str:
    """The table under the charts: the window, then one row per bucket, newest first, each
    linking to its runs. Built here rather than in the template: a week of hours is ~3,000 cells,
    which the template engine renders ten times slower."""
    fmt = LABEL_FORMATS[data["size"]]
    totals = data["totals"]
    rows = [_row_html("window", totals["runs_url"], totals, "total")]
    rows += [
        _row_html(point["start"].strftime(fmt), point["runs_url"], point)
        for point in reversed(data["points"])
    ]
    return mark_safe("\n".join(rows))  # noqa: S308 - escaped by format_html, or numbers
