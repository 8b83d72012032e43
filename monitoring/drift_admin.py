"""Drift in admin: the list of daily reports, and a day's page with its charts. Staff need the
view permission on drift reports; nobody adds, changes or deletes one by hand (the daily task
and `manage.py monitoring_drift_report` build them)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse

from marketplace.admin_bases import ReadOnlyAdmin

from .drift import ordered_dimensions
from .drift_models import DriftReport
from .drift_pages import THRESHOLDS, drift_dimension_rows, drift_report_charts
from .drift_stats import STAT_EDGES


@admin.register(DriftReport)
class DriftReportAdmin(ReadOnlyAdmin):
    list_display = ("day", "run_count", "drifted", "max_psi_shown", "levels", "computed_at")
    list_filter = ("drifted",)
    date_hierarchy = "day"
    ordering = ("-day",)

    @admin.display(description="largest PSI", ordering="max_psi")
    def max_psi_shown(self, report):
        return "–" if report.max_psi is None else f"{report.max_psi:.3f}"

    @admin.display(description="moderate or drifted")
    def levels(self, report):
        moved = [
            f"{name}: {dim['level']}"
            for name, dim in ordered_dimensions(report.dimensions).items()
            if dim["level"] in ("moderate", "drifted")
        ]
        return ", ".join(moved) or "–"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self.get_object(request, object_id)
        if report is None:
            raise Http404("No drift report with that id.")
        if not self.has_view_permission(request, report):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Drift on {report.day}",
            "report": report,
            "rows": drift_dimension_rows(report.dimensions),
            "charts": drift_report_charts(report),
            "thresholds": THRESHOLDS,
            "stat_edges": STAT_EDGES,
        }
        return TemplateResponse(request, "admin/monitoring/driftreport/detail.html", context)
