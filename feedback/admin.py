"""Seller feedback in admin: read-only records, and the feedback report page.

Ratings, outcomes and corrections are what sellers did; nobody edits them here. The report is a
custom page of the outcomes' admin (`get_urls()` + `admin_site.admin_view()`): staff only, and it
also needs the view permission on outcomes.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from ai_prefill.admin import run_page_section_register

from .models import FieldCorrection, PrefillOutcome, SuggestionRating
from .reports import (
    ReportParamsForm,
    report_charts,
    report_field_rows,
    report_headline_rows,
    report_time_rows,
)
from .selectors import GROUP_BY_CHOICES, feedback_report, ratings_for_run


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.display(description="run")
def run_link(obj):
    run_id = obj.run_id if hasattr(obj, "run_id") else obj.outcome.run_id
    url = reverse("admin:ai_prefill_prefillrun_change", args=[run_id])
    return format_html('<a href="{}">{}</a>', url, str(run_id)[:8])


@admin.register(SuggestionRating)
class SuggestionRatingAdmin(ReadOnlyAdmin):
    list_display = ("updated_at", "rating", "short_comment", run_link, "user", "run_model")
    list_filter = ("rating", "updated_at", "run__model", "run__provider", "run__prompt_version")
    search_fields = ("comment", "user__username", "run__id")
    list_select_related = ("user", "run")
    date_hierarchy = "updated_at"
    raw_id_fields = ("run", "user")
    show_full_result_count = False

    @admin.display(description="comment")
    def short_comment(self, rating):
        return Truncator(rating.comment).chars(80)

    @admin.display(description="model", ordering="run__model")
    def run_model(self, rating):
        return rating.run.model


class FieldCorrectionInline(admin.TabularInline):
    model = FieldCorrection
    extra = 0
    can_delete = False
    fields = ("stage", "field", "suggested", "final", "changed", "similarity", "recorded_at")
    readonly_fields = fields
    ordering = ("stage", "id")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PrefillOutcome)
class PrefillOutcomeAdmin(ReadOnlyAdmin):
    list_display = (
        "recorded_at", "status", run_link, "listing_id", "fields_changed", "seconds_to_publish",
        "run_model",
    )  # fmt: skip
    list_filter = ("status", "recorded_at", "run__model", "run__provider", "run__prompt_version")
    search_fields = ("run__id", "listing_id")
    list_select_related = ("run",)
    date_hierarchy = "recorded_at"
    raw_id_fields = ("run",)
    show_full_result_count = False
    inlines = [FieldCorrectionInline]

    def get_urls(self):
        report = path(
            "report/",
            self.admin_site.admin_view(self.report_view),
            name="feedback_prefilloutcome_report",
        )
        return [report, *super().get_urls()]

    @admin.display(description="model", ordering="run__model")
    def run_model(self, outcome):
        return outcome.run.model

    def report_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ReportParamsForm(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Feedback report",
            "form": form,
        }
        if form.is_valid():
            report = feedback_report(**form.cleaned_data)
            params = {k: str(form.cleaned_data[k]) for k in ("start", "end", "group_by")}
            context.update(
                form=ReportParamsForm(params),  # shows the dates in effect, defaults included
                report=report,
                group_by_label=GROUP_BY_CHOICES[report["group_by"]],
                headline_rows=report_headline_rows(report),
                field_rows=report_field_rows(report),
                time_rows=report_time_rows(report),
                charts=report_charts(report),
                csv_url=reverse("feedback-report-csv") + "?" + urlencode(params),
                json_url=reverse("feedback-report") + "?" + urlencode(params),
            )
        return TemplateResponse(request, "admin/feedback/prefilloutcome/report.html", context)


@admin.register(FieldCorrection)
class FieldCorrectionAdmin(ReadOnlyAdmin):
    list_display = (
        "recorded_at", "field", "stage", "changed", "similarity", "suggested", "final", run_link,
    )  # fmt: skip
    list_filter = ("field", "stage", "changed", "recorded_at", "outcome__run__model")
    search_fields = ("outcome__run__id",)
    list_select_related = ("outcome",)
    date_hierarchy = "recorded_at"
    raw_id_fields = ("outcome",)
    show_full_result_count = False


def _run_page_rating(run) -> str:
    """The seller's thumbs and comment, for the run's admin page (ai_prefill's hook)."""
    ratings = ratings_for_run(run_id=run.pk)
    if not ratings:
        return "not rated"
    return format_html_join(
        mark_safe("<br>"),
        "{} by {}{}",
        (
            (r.get_rating_display(), r.user, format_html(" — “{}”", r.comment) if r.comment else "")
            for r in ratings
        ),
    )


run_page_section_register(title="Seller's rating", render=_run_page_rating)
