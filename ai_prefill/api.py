"""POST /api/prefill/ starts a run from a photo; GET /api/prefill/<id>/ tells how it went."""

from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from marketplace.api_schema import api_error
from marketplace.photos import ALLOWED_HUMAN, PhotoRejected, photo_process

from .models import PrefillRun
from .polling import poll_after_ms
from .selectors import prefill_run_get_for_user, prefill_run_status_for_user
from .services import PrefillQuotaExceeded, prefill_run_start
from .tasks import prefill_run_process


class PrefillBurstThrottle(UserRateThrottle):
    """Short bursts per seller; the daily quota is counted in the database by the service."""

    scope = "prefill_burst"

    def get_rate(self):
        return settings.AI_PREFILL_BURST_RATE


class PrefillUploadSerializer(serializers.Serializer):
    image = serializers.FileField(help_text=f"{ALLOWED_HUMAN} photo of the item.")

    def validate_image(self, upload):
        try:
            # Decode enough pixels for the model image too (prefill_run_start makes it).
            return photo_process(upload, keep_side=settings.AI_IMAGE_MAX_SIDE)
        except PhotoRejected as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None


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
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [PrefillBurstThrottle]

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
            429: api_error("Past the burst rate or the daily quota; `detail` says when to retry."),
            503: api_error("The task queue cannot be reached; `detail` is for the seller."),
        },
    )
    def post(self, request):
        upload = PrefillUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                run = prefill_run_start(user=request.user, photo=upload.validated_data["image"])
        except PrefillQuotaExceeded as exc:
            raise Throttled(wait=exc.retry_after, detail=str(exc)) from None
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
