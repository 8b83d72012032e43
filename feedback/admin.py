"""Seller feedback in admin: read-only records, and the feedback report page.

Ratings, outcomes and corrections are what sellers did; nobody edits them here. The report has
its own entry in the admin index: the changelist of `FeedbackReport`, a proxy of outcomes with no
permissions of its own (staff only, and it needs the view permission on outcomes).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from ai_prefill.admin import run_page_section_register
from marketplace.admin_bases import ReadOnlyAdmin, ReportPageAdmin

# The Experiment admin is registered here (it needs ai_prefill and feedback's sell sessions).
from . import experiment_admin  # noqa: F401
from .models import FeedbackReport, FieldCorrection, PrefillOutcome, SuggestionRating
from .reports import (
    ReportParamsForm,
    report_charts,
    report_field_rows,
    report_headline_rows,
    report_time_rows,
)
from .selectors import GROUP_BY_CHOICES, feedback_report, ratings_for_run


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

    def has_view_permission(self, request, obj=None):
        # The corrections are part of the outcome (the report shows them to the same staff):
        # whoever may view the outcome sees them on its page, not an outcome that seems to
        # have none. Django's default asks for `view_fieldcorrection` and hides them silently.
        may_view_outcome = request.user.has_perm("feedback.view_prefilloutcome")
        return may_view_outcome or super().has_view_permission(request, obj)


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
        # The report's old address, from before it had its own index entry (bookmarks).
        report = path(
            "report/",
            self.admin_site.admin_view(self.report_redirect),
            name="feedback_prefilloutcome_report",
        )
        return [report, *super().get_urls()]

    @admin.display(description="model", ordering="run__model")
    def run_model(self, outcome):
        return outcome.run.model

    def report_redirect(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        url = reverse("admin:feedback_feedbackreport_changelist")
        query = request.GET.urlencode()
        return HttpResponseRedirect(f"{url}?{query}" if query else url)


@admin.register(FeedbackReport)
class FeedbackReportAdmin(ReportPageAdmin):
    """The feedback report as an entry of the admin index: its changelist is the report page.

    Only that one address exists (no add, change or delete pages); it needs the view permission
    on outcomes, the records the report is made from.
    """

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("feedback.view_prefilloutcome")

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = ReportParamsForm(request.GET)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Feedback report",
            "form": form,
        }
        if form.is_valid():
            context.update(self._report_context(form.cleaned_data))
        return TemplateResponse(request, "admin/feedback/feedbackreport/report.html", context)

    def _report_context(self, cleaned: dict) -> dict:
        report = feedback_report(**cleaned)
        params = {k: str(cleaned[k]) for k in ("start", "end", "group_by")}
        return {
            "form": ReportParamsForm(params),  # shows the dates in effect, defaults included
            "report": report,
            "group_by_label": GROUP_BY_CHOICES[report["group_by"]],
            "headline_rows": report_headline_rows(report),
            "field_rows": report_field_rows(report),
            "time_rows": report_time_rows(report),
            "charts": report_charts(report),
            "csv_url": reverse("feedback-report-csv") + "?" + urlencode(params),
            "json_url": reverse("feedback-report") + "?" + urlencode(params),
        }


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
