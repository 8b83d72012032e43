"""GET /api/reports/feedback/: the staff feedback report as JSON, or CSV (?format=csv or .csv).

The ratings endpoint is in api_ratings.py.
"""

import csv
import io

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import permissions, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api import query_form

from .reports import DEFAULT_DAYS, ReportParamsForm, report_csv, report_csv_filename
from .selectors import GROUP_BY_CHOICES, feedback_report


class CanViewFeedbackReports(permissions.IsAdminUser):
    """Staff with the view permission on outcomes: not every staff member (annotators are staff)."""

    message = "Feedback reports are for staff who may view seller outcomes."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.has_perm(
            "feedback.view_prefilloutcome"
        )


class CSVRenderer(BaseRenderer):
    """The report as a spreadsheet; an error answer becomes a one-column CSV of its sentence."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "groups" in data:
            return report_csv(data)
        out = io.StringIO()
        csv.writer(out).writerows([["error"], [(data or {}).get("detail", "")]])
        return out.getvalue()


# --- the response's shape, for the OpenAPI schema (the view returns the selector's dict) ---------


class RateSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="count / n; null when n is 0.")
    count = serializers.IntegerField()
    n = serializers.IntegerField(help_text="Runs (or ratings) behind the rate.")


class FieldFiguresSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Published runs with a draft (publish corrections).")
    kept = serializers.IntegerField()
    changed = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True)
    correction_rate = serializers.FloatField(allow_null=True)
    mean_similarity = serializers.FloatField(allow_null=True)
    similarity_sum = serializers.FloatField()
    late_corrections = serializers.IntegerField()


class TimeToPublishSerializer(serializers.Serializer):
    n = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    distribution = serializers.DictField(
        child=serializers.IntegerField(), help_text="Runs per bucket (see time_buckets)."
    )


class GroupSerializer(serializers.Serializer):
    key = serializers.DictField(child=serializers.CharField())
    label = serializers.CharField()
    runs = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    failure_rate = RateSerializer()
    published = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    abandonment_rate = RateSerializer(help_text="abandoned / (published + abandoned)")
    thumbs_up = serializers.IntegerField()
    thumbs_down = serializers.IntegerField()
    thumbs_up_rate = RateSerializer()
    acceptance_rate = RateSerializer(help_text="All fields together.")
    fields_changed = serializers.IntegerField()
    fields = serializers.DictField(child=FieldFiguresSerializer())
    late_corrections = serializers.IntegerField()
    time_to_publish = TimeToPublishSerializer()


class WorstCaseSerializer(serializers.Serializer):
    run_id = serializers.UUIDField()
    run_created_at = serializers.DateTimeField()
    variant = serializers.CharField()
    run_status = serializers.CharField()
    admin_url = serializers.CharField(help_text="The run's page in admin.")
    comment = serializers.CharField(required=False, help_text="Thumbs-down cases only.")
    rated_at = serializers.DateTimeField(required=False)
    fields_changed = serializers.IntegerField(required=False, help_text="Most-corrected only.")
    seconds_to_publish = serializers.IntegerField(required=False, allow_null=True)
    listing_id = serializers.IntegerField(required=False, allow_null=True)


class WorstCasesSerializer(serializers.Serializer):
    thumbs_down = WorstCaseSerializer(many=True)
    most_corrected = WorstCaseSerializer(many=True)


class DaySerializer(serializers.Serializer):
    day = serializers.DateField()
    runs = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    published = serializers.IntegerField()
    abandoned = serializers.IntegerField()


class FeedbackReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    group_by = serializers.ChoiceField(choices=list(GROUP_BY_CHOICES))
    timezone = serializers.CharField()
    fields = serializers.ListField(child=serializers.CharField())
    time_buckets = serializers.ListField(child=serializers.DictField())
    groups = GroupSerializer(many=True)
    totals = GroupSerializer()
    daily = DaySerializer(many=True)
    worst = WorstCasesSerializer()


class FeedbackReportView(APIView):
    """Staff only. Runs created in the range, grouped; every rate with the n behind it."""

    permission_classes = [CanViewFeedbackReports]
    renderer_classes = [JSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="reports_feedback",
        summary="Seller feedback report (staff)",
        description=(
            "Per group of pre-fill runs created from `start` to `end` (local days, inclusive): "
            "runs, failures, published and abandoned, thumbs up/down, per-field acceptance and "
            "similarity, late corrections, time to publish, and the worst cases. Every rate "
            "carries the count and n behind it. `?format=csv` (or `/api/reports/feedback.csv`) "
            "returns one row per group as an attachment."
        ),
        parameters=[
            OpenApiParameter(
                "start",
                OpenApiTypes.DATE,
                description=f"Default: {DEFAULT_DAYS - 1} days before end.",
            ),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Default: today (local)."),
            OpenApiParameter(
                "group_by", str, enum=list(GROUP_BY_CHOICES), description="Default: variant."
            ),
            OpenApiParameter("format", str, enum=["json", "csv"], description="Default: json."),
        ],
        responses={
            (200, "application/json"): FeedbackReportSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request, **kwargs):
        params = query_form(ReportParamsForm, request.query_params)
        report = feedback_report(**params.cleaned_data)
        if request.accepted_renderer.format != "csv":
            return Response(report)
        disposition = f'attachment; filename="{report_csv_filename(report)}"'
        return Response(report, headers={"Content-Disposition": disposition})


@extend_schema_view(get=extend_schema(exclude=True))
class FeedbackReportCSVView(FeedbackReportView):
    """/api/reports/feedback.csv: the same report as CSV; documented with ?format=csv above."""
