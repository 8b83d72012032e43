"""The dashboard's figures against a direct computation over the same generated runs (late,
retried, failed and blank ones included), and the admin page: who may see it, its charts' data,
and links that open exactly the runs behind a point."""

import datetime as dt
import math
from datetime import timedelta

import pytest
from django.urls import reverse

from ai_prefill.schema import DRAFT_FIELDS
from monitoring.drift_services import drift_report_build
from monitoring.histograms import EDGES_MS
from monitoring.rollup_dashboard import PRODUCTION, Filters, dashboard
from monitoring.rollups import buckets_rebuild

from .drift_factories import reference_generate, runs_generate
from .rollup_data import START, expected, history_generate, percentile_as_read

LATER = START + timedelta(days=2)
DASHBOARD = "/admin/monitoring/dashboard/"


def _share(count, n):
    return count / n if n else None


def _direct(b: dict) -> dict:
    """The dashboard's figures for one bucket, computed from the raw rows' oracle."""
    drafts = b["outcomes"]["draft"]
    rated, decided = b["up"] + b["down"], b["published"] + b["abandoned"]
    latency = {
        key: {q: percentile_as_read(b[raw], value) for q, value in
              (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}
        for key, raw in (("queue_wait", "queue_ms"), ("provider", "provider_ms"),
                         ("upload_to_draft", "upload_ms"))
    }  # fmt: skip
    corrections = {f: b["corrections"].get(f, [0, 0]) for f in DRAFT_FIELDS}
    return {
        "runs": b["runs"],
        "outcomes": dict(b["outcomes"]),
        "no_usable_draft_share": _share(b["no_usable_draft"], b["runs"]),
        "empty_shares": {f: _share(b["empty"][f], drafts) for f in DRAFT_FIELDS},
        "latency": latency,
        "retries_per_run": _share(b["retries"], b["runs"]),
        "input_tokens": b["input_tokens"],
        "output_tokens": b["output_tokens"],
        "cost_usd": float(b["cost"]),
        "cost_per_run": _share(float(b["cost"]), b["runs"]),
        "cost_per_published": _share(float(b["cost"]), b["published"]),
        "published": b["published"],
        "abandonment": _share(b["abandoned"], decided),
        "thumbs_down_share": _share(b["down"], rated),
        "correction_shares": {f: _share(c[1], c[0]) for f, c in corrections.items()},
    }


def _flat(figures: dict, prefix="") -> dict:
    """{"a": {"b": 1}} -> {"a.b": 1}, for pytest.approx."""
    flat = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _assert_matches(history, *, size, start, end, filters=None):
    filters = filters or Filters()
    data = dashboard(start=start, end=end, size=size, filters=filters)
    oracle = expected(history, size=size, start=start, end=end, **filters.__dict__)
    assert sum(b["runs"] for b in oracle.values()) > 0
    compared = 0
    for point in data["points"]:
        want = _direct(oracle[point["start"]]) if point["start"] in oracle else None
        if want is None:
            assert point["runs"] == point["published"] == point["ratings_up"] == 0
            continue
        got = {name: point[name] for name in want}
        assert _flat(got) == pytest.approx(_flat(want)), point["start"]
        compared += 1
    assert compared == len(oracle)


@pytest.mark.django_db
def test_dashboard_figures_equal_a_direct_computation(seller):
    history = history_generate(seller, n=700, span=timedelta(hours=30))
    buckets_rebuild(now=LATER)
    first_hour = START.replace(minute=0, second=0)
    _assert_matches(history, size="minute", start=first_hour, end=first_hour + timedelta(hours=2))
    _assert_matches(history, size="hour", start=first_hour, end=first_hour + timedelta(hours=33))
    day = START.replace(hour=0, minute=0, second=0)
    _assert_matches(history, size="day", start=day, end=day + timedelta(days=3))
    one_arm = Filters(prompt_version_id=history.versions[0].pk, arm_id=history.arms[1].pk)
    hours = {"start": first_hour, "end": first_hour + timedelta(hours=33)}
    _assert_matches(history, size="hour", **hours, filters=one_arm)
    production = Filters(model="gpt-a", provider="openai", arm_id=PRODUCTION)
    _assert_matches(history, size="day", start=day, end=day + timedelta(days=3), filters=production)


def test_the_documented_worst_case_error_matches_the_edges():
    ratios = {round(b / a, 12) for a, b in zip(EDGES_MS, EDGES_MS[1:], strict=False)}
    assert ratios == {round(2 ** (1 / 4), 12)}
    assert math.isclose(math.sqrt(2 ** (1 / 4)) - 1, 0.0905, abs_tol=5e-5)


# --- the admin page ------------------------------------------------------------------------------


@pytest.fixture
def dashboard_viewer(staff_with):
    return staff_with("monitoring.view_dashboard", username="dana")


@pytest.mark.django_db
def test_staff_with_only_the_view_permission_see_every_panel(client, seller, dashboard_viewer):
    history_generate(seller, n=200, span=timedelta(hours=20))
    buckets_rebuild(now=LATER)
    client.force_login(dashboard_viewer)
    start = START.replace(minute=0, second=0)
    params = {"window": "custom", "start": f"{start:%Y-%m-%d %H:%M}",
              "end": f"{start + timedelta(hours=20):%Y-%m-%d %H:%M}"}  # fmt: skip
    response = client.get(DASHBOARD, params)
    assert response.status_code == 200
    charts = response.context["charts"]
    ids = {panel["id"] for panel in charts["panels"]}
    assert {"chart-runs", "chart-outcomes", "chart-empty", "chart-latency-queue_wait",
            "chart-latency-provider", "chart-latency-upload_to_draft", "chart-retries",
            "chart-tokens", "chart-cost", "chart-cost-per-day", "chart-thumbs",
            "chart-corrections"} <= ids  # fmt: skip
    runs_panel = next(p for p in charts["panels"] if p["id"] == "chart-runs")
    assert sum(runs_panel["datasets"][0]["data"]) == response.context["data"]["totals"]["runs"] > 0
    assert len(charts["labels"]) == len(charts["links"]) >= 20  # an hourly window
    assert b'id="dashboard-charts"' in response.content
    index = client.get("/admin/")
    assert DASHBOARD.encode() in index.content


@pytest.mark.django_db
def test_without_the_permission_the_dashboard_is_refused(client, staff, run_viewer):
    for user in (staff, run_viewer):
        client.force_login(user)
        assert client.get(DASHBOARD).status_code == 403
        assert DASHBOARD.encode() not in client.get("/admin/").content
    client.logout()
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_a_point_links_to_exactly_the_runs_behind_it(client, seller, staff_with):
    history = history_generate(seller, n=300, span=timedelta(hours=6))
    buckets_rebuild(now=LATER)
    viewer = staff_with("monitoring.view_dashboard", "ai_prefill.view_prefillrun")
    client.force_login(viewer)
    arm = history.arms[2]
    filters = Filters(model="gpt-b", arm_id=arm.pk)
    start = START.replace(minute=0, second=0)
    data = dashboard(start=start, end=start + timedelta(hours=6), size="hour", filters=filters)
    point = max(data["points"], key=lambda p: p["runs"])
    response = client.get(point["runs_url"])
    assert response.status_code == 200
    assert response.context["cl"].result_count == point["runs"] > 0
    for outcome, url in data["outcome_urls"].items():
        listed = client.get(url).context["cl"].result_count
        assert listed == data["totals"]["outcomes"][outcome], outcome
    production = Filters(arm_id=PRODUCTION)
    data = dashboard(start=start, end=start + timedelta(hours=6), size="hour", filters=production)
    listed = client.get(data["totals"]["runs_url"]).context["cl"].result_count
    assert listed == data["totals"]["runs"] > 0


@pytest.mark.django_db
def test_a_custom_window_needs_a_start_before_its_end(client, dashboard_viewer):
    client.force_login(dashboard_viewer)
    response = client.get(DASHBOARD, {"window": "custom", "start": "2026-03-02 10:00",
                                      "end": "2026-03-02 09:00"})  # fmt: skip
    assert response.status_code == 200
    assert "start before its end" in response.content.decode()
    assert "charts" not in response.context


@pytest.mark.django_db
def test_the_dashboard_shows_the_latest_drift_report(client, seller, staff_with):
    day = dt.date(2026, 3, 10)
    runs_generate(user=seller, day=day, categories={"electronics": 150, "bikes": 50})
    reference_generate(user=seller, day=day, per_day={"bikes": 40, "electronics": 10})
    report = drift_report_build(day=day)
    assert report.drifted

    dashboard_only = staff_with("monitoring.view_dashboard", username="dana")
    client.force_login(dashboard_only)
    page = client.get(DASHBOARD).content.decode()
    assert "Drift on" in page
    assert "Drifted" in page and ">category<" in page
    details = reverse("admin:monitoring_driftreport_change", args=[report.pk])
    assert details not in page, "no link to a page this staff user may not open"

    both = staff_with("monitoring.view_dashboard", "monitoring.view_driftreport", username="eve")
    client.force_login(both)
    assert details in client.get(DASHBOARD).content.decode()
