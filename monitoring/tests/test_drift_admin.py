"""The drift pages in admin, for staff holding only the view permission on drift reports."""

import datetime as dt
import json
import re

import pytest
from django.contrib.auth.context_processors import PermWrapper
from django.template.loader import render_to_string
from django.urls import reverse

from monitoring.drift import latest_drift
from monitoring.drift_services import drift_report_build
from monitoring.tests.drift_factories import reference_generate, runs_generate

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 10)
LIST_URL = reverse("admin:monitoring_driftreport_changelist")


@pytest.fixture
def drift_viewer(staff_with):
    return staff_with("monitoring.view_driftreport", username="dora")


@pytest.fixture
def report(seller):
    reference_generate(user=seller, day=DAY, per_day={"bikes": 30, "furniture": 20})
    runs_generate(user=seller, day=DAY, categories={"bikes": 20, "electronics": 180})
    return drift_report_build(day=DAY)


def _detail_url(report):
    return reverse("admin:monitoring_driftreport_change", args=[report.pk])


def test_the_list_shows_each_day(client_for, drift_viewer, report):
    response = client_for(drift_viewer).get(LIST_URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "March 10, 2026" in html or "2026-03-10" in html
    assert "category: drifted" in html


def test_a_days_page_has_its_charts(client_for, drift_viewer, report):
    response = client_for(drift_viewer).get(_detail_url(report))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js"></script>' in html
    assert '<script src="/static/monitoring/drift_charts.js" defer></script>' in html
    # Strict CSP: no inline script, the data travels as JSON.
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html)
    assert inline == []
    charts = json.loads(re.search(r'id="drift-charts"[^>]*>(.*?)</script>', html, re.S).group(1))
    category = next(c for c in charts if c["id"] == "drift-chart-category")
    today, reference = category["datasets"]
    electronics = category["labels"].index("Electronics")
    assert today["data"][electronics] == 90.0  # 180 of 200
    assert reference["data"][electronics] == 0.0
    assert f'id="{category["id"]}"' in html
    assert "drifted" in html


def test_staff_without_the_permission_are_refused(client_for, staff, report):
    client = client_for(staff)
    assert client.get(LIST_URL).status_code == 403
    assert client.get(_detail_url(report)).status_code == 403


def test_nobody_adds_or_deletes_a_report_by_hand(client_for, drift_viewer, report):
    client = client_for(drift_viewer)
    assert client.get(reverse("admin:monitoring_driftreport_add")).status_code == 403
    delete_url = reverse("admin:monitoring_driftreport_delete", args=[report.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert type(report).objects.filter(pk=report.pk).exists()


def test_the_dashboard_panel(report, drift_viewer, staff):
    details = reverse("admin:monitoring_driftreport_change", args=[report.pk])
    html = render_to_string(
        "monitoring/drift_panel.html",
        {"report": latest_drift(), "perms": PermWrapper(drift_viewer)},
    )
    assert "Drifted" in html
    assert details in html
    unlinked = render_to_string(
        "monitoring/drift_panel.html", {"report": latest_drift(), "perms": PermWrapper(staff)}
    )
    assert "Drifted" in unlinked and details not in unlinked, "no link the viewer may not open"
    assert "category" in html and "brightness" in html


def test_the_dashboard_panel_before_any_report():
    html = render_to_string("monitoring/drift_panel.html", {"report": None})
    assert "No drift report yet" in html
