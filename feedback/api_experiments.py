"""Staff API of experiments: GET /api/experiments/ and GET /api/experiments/<key>/results/.

The results are feedback.experiment_results.experiment_results as it is (the admin page shows
the same dict); `?format=csv` or `Accept: text/csv` gives experiment_results_csv: one row per
arm, a blank line, then the daily table. The serializers below only describe the shape for the
OpenAPI schema.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from experiments.models import Experiment

from .api import CSVRenderer
from .experiment_guardrails import results_path
from .experiment_results import (
    experiment_results,
    experiment_results_csv,
    experiment_results_csv_filename,
)
from .selectors import experiment_by_key, experiments_for_staff


class CanViewExperiments(permissions.IsAdminUser):
    """Staff holding experiments.view_experiment: not every staff member (annotators are staff)."""

    message = "Experiments are for staff who may view them."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.user.has_perm(
            "experiments.view_experiment"
        )


class ResultsCSVRenderer(CSVRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, dict) and "arms" in data and "daily" in data:
            return experiment_results_csv(data)
        return super().render(data, accepted_media_type, renderer_context)


# --- shapes, for the schema ----------------------------------------------------------------------


class ArmSummarySerializer(serializers.Serializer):
    key = serializers.CharField()
    weight = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Experiment._meta.get_field("status").choices)
    is_control = serializers.BooleanField()


class ExperimentLinksSerializer(serializers.Serializer):
    results = serializers.CharField(help_text="This API's results of the experiment.")
    admin_results = serializers.CharField(help_text="The admin results page.")


class ExperimentSummarySerializer(serializers.Serializer):
    key = serializers.CharField()
    status = serializers.CharField()
    hypothesis = serializers.CharField()
    enrollment_percent = serializers.FloatField()
    arms = ArmSummarySerializer(many=True)
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    links = ExperimentLinksSerializer()


class ArmRateSerializer(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="null when n is 0.")
    n = serializers.IntegerField()


class ArmTimeToPublishSerializer(serializers.Serializer):
    median_seconds = serializers.FloatField(allow_null=True, help_text="Kaplan-Meier median.")
    median_ci = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="[low, high], 95%."
    )
    published_within = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text='"60", "120", "300" seconds.'
    )
    curve = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="[seconds, share published] steps.",
    )


class LogRankSerializer(serializers.Serializer):
    chisq = serializers.FloatField()
    p_value = serializers.FloatField()
    observed_minus_expected = serializers.FloatField()
    variance = serializers.FloatField()
    hazard_ratio = serializers.FloatField(allow_null=True, help_text="> 1: publishes faster.")


class AlwaysValidSerializer(serializers.Serializer):
    statistic = serializers.FloatField()
    p_value = serializers.FloatField()
    tau = serializers.FloatField()


class ProportionDiffSerializer(serializers.Serializer):
    control = serializers.FloatField(allow_null=True)
    arm = serializers.FloatField(allow_null=True)
    difference = serializers.FloatField(allow_null=True, help_text="arm - control")
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)


class VsControlSerializer(serializers.Serializer):
    logrank = LogRankSerializer()
    always_valid = AlwaysValidSerializer()
    holm_reject = serializers.BooleanField()
    abandonment = ProportionDiffSerializer()
    thumbs_up = ProportionDiffSerializer()


class GuardrailValueSerializer(serializers.Serializer):
    metric = serializers.CharField()
    label = serializers.CharField()
    threshold = serializers.FloatField()
    min_sample = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True)
    n = serializers.IntegerField()
    judged = serializers.BooleanField()
    breached = serializers.BooleanField()


class RecommendationSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["ship", "keep running", "stop"])
    reasons = serializers.ListField(child=serializers.CharField())
    sessions_still_needed = serializers.IntegerField(allow_null=True)


class ArmResultsSerializer(serializers.Serializer):
    key = serializers.CharField()
    id = serializers.IntegerField()
    is_control = serializers.BooleanField()
    weight = serializers.IntegerField()
    status = serializers.CharField()
    paused_reason = serializers.CharField(allow_blank=True)
    payload = serializers.JSONField()
    sellers = serializers.IntegerField()
    sessions = serializers.IntegerField()
    published = serializers.IntegerField()
    abandoned = serializers.IntegerField()
    open = serializers.IntegerField()
    abandonment = ArmRateSerializer()
    time_to_publish = ArmTimeToPublishSerializer()
    field_acceptance = ArmRateSerializer()
    field_corrections = serializers.DictField(child=ArmRateSerializer())
    thumbs_up = ArmRateSerializer()
    failures = ArmRateSerializer()
    p95_seconds_to_draft = serializers.FloatField(allow_null=True)
    cost_per_published_usd = serializers.FloatField(allow_null=True)
    runs = serializers.IntegerField()
    vs_control = VsControlSerializer(allow_null=True)
    guardrails = GuardrailValueSerializer(many=True)
    recommendation = RecommendationSerializer(allow_null=True)


class ExperimentInfoSerializer(serializers.Serializer):
    key = serializers.CharField()
    status = serializers.CharField()
    hypothesis = serializers.CharField()
    enrollment_percent = serializers.FloatField()
    minimum_effect = serializers.FloatField()
    alpha = serializers.FloatField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    shipped_arm = serializers.CharField(allow_null=True)
    srm_acknowledged_at = serializers.DateTimeField(allow_null=True)


class SampleRatioSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    chisq = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    checked = serializers.BooleanField()
    mismatch = serializers.BooleanField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class SampleSizeSerializer(serializers.Serializer):
    per_arm = serializers.IntegerField()
    assumed = serializers.BooleanField()
    publish_rate = serializers.FloatField()
    sd_log_seconds = serializers.FloatField()
    sessions_per_day = serializers.FloatField()
    days_to_reach = serializers.FloatField(allow_null=True)


class DailySerializer(serializers.Serializer):
    day = serializers.DateField()
    arm = serializers.CharField()
    sessions = serializers.IntegerField()
    published = serializers.IntegerField()
    abandonment = serializers.FloatField(allow_null=True)
    median_seconds = serializers.FloatField(allow_null=True)


class EventSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.CharField(allow_null=True, help_text="null: the system (a guardrail).")
    arm = serializers.CharField(allow_null=True)
    note = serializers.CharField(allow_blank=True)


class ExperimentResultsSerializer(serializers.Serializer):
    experiment = ExperimentInfoSerializer()
    arms = ArmResultsSerializer(many=True)
    srm = SampleRatioSerializer()
    sample_size = SampleSizeSerializer()
    daily = DailySerializer(many=True)
    events = EventSerializer(many=True)


# --- views ---------------------------------------------------------------------------------------


def _summary(request, experiment: Experiment) -> dict:
    return {
        "key": experiment.key,
        "status": experiment.status,
        "hypothesis": experiment.hypothesis,
        "enrollment_percent": float(experiment.enrollment_percent),
        "arms": [
            {"key": a.key, "weight": a.weight, "status": a.status, "is_control": a.is_control}
            for a in experiment.arms.all()
        ],
        "started_at": experiment.started_at,
        "ended_at": experiment.ended_at,
        "links": {
            "results": reverse("experiment-results", args=[experiment.key], request=request),
            "admin_results": request.build_absolute_uri(results_path(experiment)),
        },
    }


class ExperimentListView(APIView):
    permission_classes = [CanViewExperiments]

    @extend_schema(
        operation_id="experiments_list",
        summary="Experiments (staff)",
        description="Every experiment, newest first, with its arms and links to its results.",
        responses=ExperimentSummarySerializer(many=True),
    )
    def get(self, request):
        experiments = experiments_for_staff()
        return Response(
            ExperimentSummarySerializer([_summary(request, e) for e in experiments], many=True).data
        )


class ExperimentResultsView(APIView):
    permission_classes = [CanViewExperiments]
    renderer_classes = [JSONRenderer, ResultsCSVRenderer]

    @extend_schema(
        operation_id="experiments_results",
        summary="Results of an experiment (staff)",
        description=(
            "Every arm side by side: sellers, sessions, time to publish (Kaplan-Meier, censored "
            "by abandonment), abandonment, field acceptance, thumbs up, failures, p95 time to "
            "draft, cost per published listing, the tests against control (log-rank, "
            "always-valid mSPRT, Holm), guardrails and the recommendation; the sample-ratio "
            "check, the planned sample size, daily figures and the audit log. `?format=csv` (or "
            "`Accept: text/csv`) returns one row per arm, a blank line, then the daily table."
        ),
        parameters=[
            OpenApiParameter("format", str, enum=["json", "csv"], description="Default: json."),
        ],
        responses={
            (200, "application/json"): ExperimentResultsSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    def get(self, request, key, **kwargs):
        experiment = experiment_by_key(key=key)
        if experiment is None:
            raise NotFound("No experiment with that key.")
        results = experiment_results(experiment=experiment)
        if request.accepted_renderer.format != "csv":
            return Response(results)
        disposition = f'attachment; filename="{experiment_results_csv_filename(results)}"'
        return Response(results, headers={"Content-Disposition": disposition})
