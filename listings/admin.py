"""Listings, conversations and messages in admin.

A listing is changed and deleted here through the same services as on the site
(`listings/services.py`: staff need the model's change or delete permission), so a new photo goes
through the photo intake and a deleted listing takes its files with it. What no service changes
(seller, status, the pre-fill run, conversations and messages) is read-only; listings and
conversations are created by their users on the site, not here.
"""

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from ai_prefill.admin import run_page_section_register
from marketplace.forms import PriceField
from marketplace.money import format_eur

from .forms import PhotoField
from .models import Conversation, Listing, Message
from .selectors import listing_for_run
from .services import EDITABLE_FIELDS, listing_delete, listing_mark_sold, listing_update


class ListingAdminForm(forms.ModelForm):
    new_photo = PhotoField(required=False, label="Replace the photo")

    class Meta:
        model = Listing
        fields = EDITABLE_FIELDS
        field_classes = {"price_eur": PriceField}


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    form = ListingAdminForm
    list_display = (
        "thumb",
        "title",
        "category",
        "condition",
        "price",
        "status",
        "seller",
        "created_at",
    )
    list_display_links = ("thumb", "title")
    list_filter = ("status", "category", "condition", "created_at")
    search_fields = ("title", "description", "brand", "seller__username", "seller__email")
    list_select_related = ("seller",)
    fields = (
        "preview", "new_photo", *EDITABLE_FIELDS, "seller", "status", "prefill_run",
        "created_at", "updated_at", "sold_at",
    )  # fmt: skip
    readonly_fields = (
        "preview", "seller", "status", "prefill_run", "created_at", "updated_at", "sold_at",
    )  # fmt: skip
    actions = ["mark_sold"]
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) on every page is slow on a big table

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        changes.pop("new_photo", None)
        photo = form.cleaned_data.get("new_photo")
        listing_update(listing=obj, actor=request.user, changes=changes, photo=photo)

    def delete_model(self, request, obj):
        listing_delete(listing=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for listing in queryset:
            listing_delete(listing=listing, actor=request.user)

    @admin.action(description="Mark selected listings as sold", permissions=["change"])
    def mark_sold(self, request, queryset):
        active = list(queryset.filter(status=Listing.Status.ACTIVE))
        for listing in active:
            listing_mark_sold(listing=listing, actor=request.user)
        self.message_user(request, f"{len(active)} listing(s) marked as sold.")

    @admin.display(description="")
    def thumb(self, obj):
        return (
            format_html('<img src="{}" alt="" style="height:48px">', obj.thumbnail.url)
            if obj.thumbnail
            else ""
        )

    @admin.display(description="Photo")
    def preview(self, obj):
        return (
            format_html('<img src="{}" alt="" style="max-height:320px">', obj.photo.url)
            if obj.photo
            else ""
        )

    @admin.display(description="Price", ordering="price_eur")
    def price(self, obj):
        return format_eur(obj.price_eur)


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("sender", "body", "created_at", "read_at")
    readonly_fields = ("sender", "body", "created_at", "read_at")
    can_delete = False


class NoHandEditsAdmin(admin.ModelAdmin):
    """Conversations and messages are written by their users (conversation services: the
    email goes through the outbox); staff read them and may delete spam."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Conversation)
class ConversationAdmin(NoHandEditsAdmin):
    list_display = ("listing", "buyer", "seller", "created_at", "last_message_at")
    list_filter = ("created_at",)
    search_fields = ("listing__title", "buyer__username", "listing__seller__username")
    list_select_related = ("listing", "listing__seller", "buyer")
    raw_id_fields = ("listing", "buyer")
    inlines = [MessageInline]

    @admin.display(ordering="listing__seller")
    def seller(self, obj):
        return obj.listing.seller


@admin.register(Message)
class MessageAdmin(NoHandEditsAdmin):
    list_display = ("short_body", "sender", "conversation", "created_at", "read_at")
    list_filter = ("created_at", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("body", "sender__username", "conversation__listing__title")
    list_select_related = ("sender", "conversation__listing", "conversation__buyer")
    raw_id_fields = ("sender", "conversation")
    date_hierarchy = "created_at"

    @admin.display(description="Message")
    def short_body(self, obj):
        return obj.body[:80]


def _run_page_listing(run) -> str:
    """The listing made from the run, for the run's admin page (ai_prefill's hook)."""
    listing = listing_for_run(run_id=run.pk)
    if listing is None:
        return "none made from this run"
    return format_html(
        '<a href="{}">{}</a> ({}, <a href="{}">on the site</a>)',
        reverse("admin:listings_listing_change", args=[listing.pk]),
        listing.title,
        listing.get_status_display(),
        listing.get_absolute_url(),
    )


run_page_section_register(title="Listing", render=_run_page_listing)
