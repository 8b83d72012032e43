"""POST /api/prefill/ starts a run from a photo; GET /api/prefill/<id>/ tells how it went."""

from django.conf import settings
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import APIException, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from marketplace.api_schema import api_error
from marketplace.photos import ALLOWED_HUMAN, PhotoRejected, photo_process

from .errors import ErrorType
from .models import PrefillRun
from .polling import poll_after_ms
from .rollout import prefill_config_for
from .selectors import prefill_run_get_for_user, prefill_run_status_for_user
from .services import (
    PREFILL_OFF_MESSAGE,
    PrefillLimitExceeded,
    prefill_limits_check,
    prefill_run_expire_if_stale,
    prefill_run_start,
)
from .tasks import prefill_run_process


class PrefillUploadSerializer(serializers.Serializer):
    image = serializers.FileField(help_text=f"{ALLOWED_HUMAN} photo of the item.")

    def validate_image(self, upload):
        try:
            # Decode enough pixels for the model image too (prefill_run_start makes it).
            return photo_process(upload, keep_side=settings.AI_IMAGE_MAX_SIDE)
        except PhotoRejected as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None


class PrefillLimited(Throttled):
    """A per-seller limit: 429 with Retry-After and the service's sentence as it is (DRF's own
    Throttled appends "Expected available in 70779 seconds." to it)."""

    def __init__(self, *, wait: int, detail: str):
        APIException.__init__(self, detail)
        self.wait = wait


class PrefillUnavailable(APIException):
    """The run could not be handed to the workers (the broker is down): 503 with a sentence."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "prefill_unavailable"


class PrefillNotOffered(APIException):
    """This seller gets no AI now (a "no AI" experiment arm, or AI off in production): 403 with a
    sentence; the Sell page shows such a seller the plain form and never asks."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "prefill_off"


POLL_AFTER_HELP = (
    "While the run works: milliseconds until it is worth asking again (about when the draft is "
    "due, judged from recent runs). Null once the run is finished."
)


class PrefillRunSerializer(serializers.ModelSerializer):
    draft = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    prompt_version = serializers.CharField(source="prompt_version.label")
    poll_after_ms = serializers.SerializerMethodField(help_text=POLL_AFTER_HELP)

    class Meta:
        model = PrefillRun
        fields = ["id", "status", "draft", "error", "prompt_version", "model", "poll_after_ms"]

    def get_poll_after_ms(self, run) -> int | None:
        return poll_after_ms(run)

    def get_draft(self, run) -> dict | None:
        return run.draft if run.status == PrefillRun.Status.SUCCEEDED else None

    def get_error(self, run) -> dict | None:
        if run.status != PrefillRun.Status.FAILED:
            return None
        return {"type": run.error_type, "message": run.error_message}


class PrefillCreateView(APIView):
    """The per-seller limits (burst and daily quota) are counted in the database by the service,
    atomically; not by a DRF throttle, whose read-then-write cache counter lets parallel uploads
    through and which fails when Redis does."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request={"multipart/form-data": PrefillUploadSerializer},
        responses={
            202: inline_serializer(
                "PrefillAccepted",
                {
                    "id": serializers.UUIDField(),
                    "status": serializers.CharField(),
                    "poll_after_ms": serializers.IntegerField(
                        help_text="Milliseconds until it is worth asking GET /api/prefill/<id>/ "
                        "(about when the draft is due; 0: ask now)."
                    ),
                },
            ),
            403: api_error("No AI suggestions for this seller now (a no-AI experiment arm)."),
            429: api_error("Past the burst rate or the daily quota; `detail` says when to retry."),
            503: api_error("The task queue cannot be reached; `detail` is for the seller."),
        },
    )
    def post(self, request):
        config = prefill_config_for(user=request.user)  # the seller's experiment arm, or production
        if not config.enabled:
            raise PrefillNotOffered(detail=PREFILL_OFF_MESSAGE)
        try:
            prefill_limits_check(user=request.user)  # early and unlocked: before decoding a photo
            upload = PrefillUploadSerializer(data=request.data)
            upload.is_valid(raise_exception=True)
            run = prefill_run_start(
                user=request.user, photo=upload.validated_data["image"], config=config
            )
        except PrefillLimitExceeded as exc:
            raise PrefillLimited(wait=exc.retry_after, detail=str(exc)) from None
        if run.error_type == ErrorType.QUEUE_UNAVAILABLE:
            raise PrefillUnavailable(detail=run.error_message)
        if prefill_run_process.app.conf.task_always_eager:
            run.refresh_from_db(fields=["status"])  # in-process tasks (embedded mode) have run
        after = poll_after_ms(run)
        accepted = {"id": str(run.pk), "status": run.status, "poll_after_ms": after or 0}
        return Response(accepted, status=status.HTTP_202_ACCEPTED)


class PrefillDetailView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=PrefillRunSerializer)
    def get(self, request, run_id):
        run = prefill_run_status_for_user(run_id=run_id, user=request.user)
        if run is None:
            raise Http404
        prefill_run_expire_if_stale(run=run)
        return Response(PrefillRunSerializer(run).data)


class PrefillPhotoView(APIView):
    """The run's stored photo, for its owner and staff only (it is not under MEDIA_URL).

    `?size=thumb`: its thumbnail; `?size=model`: the image the model was sent (404 for runs from
    before those were stored)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    def get(self, request, run_id):
        run = prefill_run_get_for_user(run_id=run_id, user=request.user)
        if run is None:
            raise Http404
        size = request.query_params.get("size")
        stored = {"thumb": run.thumbnail, "model": run.model_image}.get(size, run.photo)
        if not stored:
            raise Http404
        response = FileResponse(stored.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response
