"""POST /api/prefill/<id>/feedback/: the seller's thumbs up or down on a suggestion."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ai_prefill.selectors import prefill_run_get_owned

from .models import SuggestionRating
from .services import rating_set


class RatingSerializer(serializers.Serializer):
    rating = serializers.ChoiceField(choices=SuggestionRating.Rating.values)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class RatingView(APIView):
    """One rating per run and seller; posting again changes it. Only the run's seller."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=RatingSerializer, responses=RatingSerializer)
    def post(self, request, run_id):
        run = _owned_run(request, run_id)
        data = RatingSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating = rating_set(run=run, user=request.user, **data.validated_data)
        return Response(RatingSerializer(rating).data)

    @extend_schema(responses=RatingSerializer)
    def get(self, request, run_id):
        run = _owned_run(request, run_id)
        rating = SuggestionRating.objects.filter(run=run, user=request.user).first()
        if rating is None:
            raise Http404("No rating yet.")
        return Response(RatingSerializer(rating).data)


def _owned_run(request, run_id):
    run = prefill_run_get_owned(run_id=run_id, user=request.user)
    if run is None:
        raise Http404
    return run
