from django.contrib import admin
from django.utils.html import format_html

from marketplace.money import format_eur

from .models import Conversation, Listing, Message


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
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
    raw_id_fields = ("seller",)
    readonly_fields = ("preview", "created_at", "updated_at", "sold_at")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False  # COUNT(*) on every page is slow on a big table

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


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
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
class MessageAdmin(admin.ModelAdmin):
    list_display = ("short_body", "sender", "conversation", "created_at", "read_at")
    list_filter = ("created_at", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("body", "sender__username", "conversation__listing__title")
    list_select_related = ("sender", "conversation__listing", "conversation__buyer")
    raw_id_fields = ("sender", "conversation")
    date_hierarchy = "created_at"

    @admin.display(description="Message")
    def short_body(self, obj):
        return obj.body[:80]
