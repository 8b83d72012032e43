"""The monitoring dashboard in a real Chromium, for staff holding only its view permission:
every panel's chart drawn by Chart.js (no CSP violation, no script error), the numbers beside
them, and a click on a point that opens the run log filtered to that bucket."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

from monitoring.rollups import buckets_rebuild
from monitoring.tests.rollup_data import START, history_generate

pytestmark = pytest.mark.browser


def test_the_dashboard_draws_every_chart_and_a_point_opens_its_runs(new_page, seller, staff_with):
    history = history_generate(seller, n=300, span=timedelta(hours=10))
    buckets_rebuild(now=START + timedelta(days=1))
    viewer = staff_with("monitoring.view_dashboard", username="dora")
    first = START.replace(minute=0, second=0)
    last = first + timedelta(hours=10)
    url = f"/admin/monitoring/dashboard/?window=custom&start={first:%Y-%m-%dT%H:%M}"
    url += f"&end={last:%Y-%m-%dT%H:%M}"  # UTC, as the page says

    page = new_page()
    page.goto("/admin/login/?next=" + url.replace("&", "%26").replace("?", "%3F"))
    page.get_by_label("Username").fill(viewer.username)
    page.get_by_label("Password").fill("pw-" + viewer.username)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monitoring dashboard")

    canvases = page.locator(".panel canvas")
    count = canvases.count()
    assert count >= 12
    expect(page.locator("body")).to_have_attribute("data-charts-drawn", str(count))
    drawn = page.evaluate(
        "[...document.querySelectorAll('.panel canvas')]"
        ".map((c) => Boolean(Chart.getChart(c)) && c.width > 0 && c.height > 0)"
    )
    assert drawn == [True] * count

    # The numbers beside the chart: the window's total runs, as in the table's window row.
    total = page.locator(".buckets tr.total td").first.inner_text()
    beside = page.locator(".panel").first.locator(".panel-numbers td").first
    expect(beside).to_have_text(total)
    finished = [r for r in history.runs if r.finished_at and first <= r.finished_at < last]
    assert int(total) == len(finished) > 0

    # A click on the tallest bar of "Pre-fills per bucket" opens the run log of that bucket.
    x, y, label = page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById("chart-runs"));
          const values = chart.data.datasets[0].data;
          const i = values.indexOf(Math.max(...values));
          const bar = chart.getDatasetMeta(0).data[i];
          return [bar.x, bar.y + 3, chart.data.labels[i]];
        }"""
    )
    box = page.locator("#chart-runs").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(page).to_have_url(re.compile(r"/admin/ai_prefill/prefillrun/\?"))
    params = parse_qs(urlparse(page.url).query)
    hour = int(label.split()[-1].split(":")[0])
    assert params["finished_at__gte"][0].startswith(f"{START:%Y-%m}")
    assert f"T{hour:02d}:00:00" in params["finished_at__gte"][0]
