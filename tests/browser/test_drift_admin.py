"""The drift report's page in a real browser: staff with only the view permission open a day and
see a bar chart per dimension drawn by Chart.js, under the site's strict Content-Security-Policy
(the `new_page` fixture fails the test on any violation or JavaScript error)."""

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from monitoring.drift_services import drift_report_build
from monitoring.tests.drift_factories import reference_generate, runs_generate

pytestmark = pytest.mark.browser

DAY = dt.date(2026, 3, 10)


def test_a_drifted_day_with_its_charts(new_page, staff_with, seller):
    reference_generate(user=seller, day=DAY, per_day={"bikes": 30, "furniture": 20})
    runs_generate(user=seller, day=DAY, categories={"bikes": 20, "electronics": 180})
    report = drift_report_build(day=DAY)
    viewer = staff_with("monitoring.view_driftreport", username="dora")

    page = new_page()
    page.goto("/admin/login/?next=/admin/monitoring/driftreport/")
    page.get_by_label("Username").fill(viewer.username)
    page.get_by_label("Password").fill("pw-" + viewer.username)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    page.locator("#result_list tbody tr a").first.click()
    expect(page).to_have_url(re.compile(rf"/admin/monitoring/driftreport/{report.pk}/change/$"))
    category_row = page.locator("table.dimensions tbody tr").first
    expect(category_row).to_contain_text("Suggested category")
    expect(category_row).to_contain_text("drifted")

    canvases = page.locator(".charts canvas")
    expect(canvases).to_have_count(6)
    drawn = page.evaluate(
        "[...document.querySelectorAll('.charts canvas')]"
        ".map((c) => Boolean(Chart.getChart(c)) && c.width > 0 && c.height > 0)"
    )
    assert drawn == [True] * 6
    bars = page.evaluate(
        "Chart.getChart(document.getElementById('drift-chart-category')).data.datasets"
        ".map((d) => d.data.length)"
    )
    assert bars == [14, 14]  # 13 categories and "No value", for the day and the reference
