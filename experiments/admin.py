"""Read-only logs of the experiments app. The Experiment admin itself (create, start, ramp,
results, ship) is registered by feedback (feedback/experiment_admin.py): starting and shipping
need ai_prefill and the results need feedback's data, which this app may not import."""

from django.contrib import admin

from marketplace.admin_bases import ReadOnlyAdmin

from .models import Assignment, Exposure


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    list_display = ["user", "experiment", "arm", "assigned_at"]
    list_filter = ["experiment"]
    list_select_related = ["user", "experiment", "arm__experiment"]
    raw_id_fields = ["user"]
    search_fields = ["user__username"]
    date_hierarchy = "assigned_at"


@admin.register(Exposure)
class ExposureAdmin(ReadOnlyAdmin):
    list_display = ["user", "experiment", "arm", "session_id", "exposed_at"]
    list_filter = ["experiment"]
    list_select_related = ["user", "experiment", "arm__experiment"]
    raw_id_fields = ["user"]
    search_fields = ["user__username", "session_id"]
    date_hierarchy = "exposed_at"
