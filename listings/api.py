"""REST API for listings: same filters as the browse page, writes by the owner only."""

from contextlib import contextmanager

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from ai_prefill.selectors import prefill_run_get_owned
from marketplace.api import query_form
from marketplace.money import format_eur
from marketplace.pagination import CappedPageNumberPagination
from marketplace.photos import ALLOWED_HUMAN, PhotoRejected, photo_process

from . import selectors, services
from .forms import ListingApiFilterForm
from .models import Listing
from .services import EDITABLE_FIELDS, ListingFields


class ListingSerializer(serializers.ModelSerializer):
    seller = serializers.CharField(source="seller.display_name", read_only=True)
    price_display = serializers.SerializerMethodField()
    photo_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Listing
        fields = [
            "id", *EDITABLE_FIELDS, "price_display", "status", "seller",
            "photo_url", "thumbnail_url", "created_at", "updated_at",
        ]  # fmt: skip

    def get_price_display(self, listing: Listing) -> str:
        return format_eur(listing.price_eur)

    def get_photo_url(self, listing: Listing) -> str:
        return self._absolute(listing.photo.url)

    def get_thumbnail_url(self, listing: Listing) -> str:
        return self._absolute(listing.thumbnail.url)

    def _absolute(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ListingWriteSerializer(serializers.ModelSerializer):
    """Input for POST (photo required) and PATCH (photo optional). Validates, never saves."""

    photo = serializers.FileField(
        write_only=True,
        required=False,
        help_text=f"{ALLOWED_HUMAN}. On create, a photo or a prefill_run is required.",
    )
    prefill_run = serializers.UUIDField(
        write_only=True,
        required=False,
        help_text="Create only: one of your pre-fill run ids; the listing takes its photo.",
    )

    status = serializers.ChoiceField(
        choices=Listing.Status.choices,
        write_only=True,
        required=False,
        help_text="Change only: `sold` marks the listing sold, `active` puts it back on sale.",
        error_messages={
            "invalid_choice": "“{input}” is not a status: use “active” (on sale) or “sold”."
        },
    )

    class Meta:
        model = Listing
        fields = [*EDITABLE_FIELDS, "photo", "prefill_run", "status"]

    def validate_prefill_run(self, run_id):
        run = prefill_run_get_owned(run_id=run_id, user=self.context["request"].user)
        if run is None:
            raise serializers.ValidationError("Unknown pre-fill run.")
        return run

    def validate_photo(self, upload):
        try:
            return photo_process(upload)
        except PhotoRejected as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None

    def create(self, validated_data):  # pragma: no cover - writes go through services
        raise NotImplementedError

    update = create


class ListingChangeJsonSerializer(ListingWriteSerializer):
    """PATCH's JSON body, for the schema: the same fields but the files."""

    photo = None
    prefill_run = None

    class Meta(ListingWriteSerializer.Meta):
        fields = [*EDITABLE_FIELDS, "status"]


STATUS_ON_CREATE = "Only when changing a listing: a new one is on sale."
# What a change of `status` calls: the same services as the site's buttons.
STATUS_SERVICES = {
    Listing.Status.SOLD: services.listing_mark_sold,
    Listing.Status.ACTIVE: services.listing_relist,
}


class IsOwnerForWrites(permissions.BasePermission):
    message = "Only the seller can change this listing."

    def has_object_permission(self, request, view, obj):
        return request.method in permissions.SAFE_METHODS or obj.seller_id == request.user.pk


def _filter_parameters() -> list[OpenApiParameter]:
    """GET /api/listings/'s query parameters, as ListingApiFilterForm reads them."""
    form = ListingApiFilterForm()
    price = {"type": "number", "minimum": 0, "multipleOf": 0.01}

    def choices(name):
        values = [value for value, _ in form.fields[name].choices if value]
        return {"type": "string", "enum": values}

    return [
        OpenApiParameter(
            "q",
            {"type": "string", "maxLength": form.fields["q"].max_length},
            description="Full-text search in title and description",
        ),
        OpenApiParameter("category", choices("category"), description="Category slug"),
        OpenApiParameter("condition", choices("condition"), description="Condition slug"),
        OpenApiParameter("min_price", price, description="EUR, at most max_price"),
        OpenApiParameter("max_price", price, description="EUR"),
        OpenApiParameter("sort", choices("sort"), description="Default: newest"),
    ]


@extend_schema_view(
    list=extend_schema(parameters=_filter_parameters()),
    create=extend_schema(request={"multipart/form-data": ListingWriteSerializer}),
    partial_update=extend_schema(
        request={
            "multipart/form-data": ListingWriteSerializer,
            "application/json": ListingChangeJsonSerializer,
        }
    ),
)
class ListingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ListingSerializer
    permission_classes = [permissions.IsAuthenticatedOrReadOnly, IsOwnerForWrites]
    # `count` stops at 10,000: counting every match is the slowest part of a big search.
    pagination_class = CappedPageNumberPagination
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self.action == "list":
            form = query_form(ListingApiFilterForm, self.request.query_params, blank_allowed=["q"])
            return selectors.listing_search(filters=form.to_filters())
        # Detail: sold listings stay readable; writes are checked by IsOwnerForWrites.
        return Listing.objects.select_related("seller")

    def create(self, request, *args, **kwargs):
        serializer = ListingWriteSerializer(data=request.data, context={"request": request})
        data = self._validated(serializer)
        photo, run = data.pop("photo", None), data.pop("prefill_run", None)
        if photo is None and run is None:
            raise ValidationError({"photo": ["A photo or a prefill_run is required."]})
        if "status" in data:
            raise ValidationError({"status": [STATUS_ON_CREATE]})
        with _as_drf_errors():
            listing = services.listing_create(
                seller=request.user, fields=ListingFields(**data), photo=photo, prefill_run=run
            )
        return Response(self._out(listing), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        listing = self.get_object()
        serializer = ListingWriteSerializer(
            listing, data=request.data, partial=True, context={"request": request}
        )
        data = self._validated(serializer)
        if "prefill_run" in data:
            raise ValidationError({"prefill_run": ["Only when creating a listing."]})
        photo, new_status = data.pop("photo", None), data.pop("status", None)
        with _as_drf_errors(), transaction.atomic():
            services.listing_update(listing=listing, actor=request.user, changes=data, photo=photo)
            if new_status is not None:
                STATUS_SERVICES[new_status](listing=listing, actor=request.user)
        return Response(self._out(listing))

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            return Response(status=status.HTTP_405_METHOD_NOT_ALLOWED)
        return self.partial_update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        with _as_drf_errors():
            services.listing_delete(listing=instance, actor=self.request.user)

    def _validated(self, serializer) -> dict:
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _out(self, listing: Listing) -> dict:
        return ListingSerializer(listing, context=self.get_serializer_context()).data


@contextmanager
def _as_drf_errors():
    """Translate the services' Django exceptions into DRF's 403 and 400 answers."""
    try:
        yield
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except DjangoValidationError as exc:
        detail = exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        raise ValidationError(detail) from None
