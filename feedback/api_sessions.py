"""POST /api/sell-sessions/<id>/events/: the Sell page tells its session what the seller did
(chose a photo; saw the AI's draft). Its seller only; the first of each event counts."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_prefill.selectors import prefill_run_get_owned

from .services import SELL_SESSION_EVENTS, sell_session_get_owned, sell_session_mark

RUN_NOT_YOURS = "That AI suggestion is not yours or no longer exists."


class SellSessionEventSerializer(serializers.Serializer):
    event = serializers.ChoiceField(
        choices=SELL_SESSION_EVENTS,
        help_text="photo_chosen: the seller chose a photo (with or without AI); draft_shown: the "
        "AI's draft filled the form.",
    )
    run = serializers.UUIDField(
        required=False, help_text="The seller's pre-fill run behind the event, if any."
    )


class SellSessionEventView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=SellSessionEventSerializer,
        responses={204: OpenApiResponse(description="Recorded (or already recorded earlier).")},
    )
    def post(self, request, session_id):
        session = sell_session_get_owned(session_id=session_id, user=request.user)
        if session is None:
            raise Http404  # someone else's session is none of the caller's business
        data = SellSessionEventSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = None
        if "run" in data.validated_data:
            run = prefill_run_get_owned(run_id=data.validated_data["run"], user=request.user)
            if run is None:
                raise serializers.ValidationError({"run": [RUN_NOT_YOURS]})
        sell_session_mark(session=session, event=data.validated_data["event"], run=run)
        return Response(status=status.HTTP_204_NO_CONTENT)
