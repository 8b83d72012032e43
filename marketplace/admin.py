from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .admin_bases import ReadOnlyAdmin
from .models import OutboxMessage, User

admin.site.register(User, UserAdmin)
admin.site.site_header = "Trova admin"
admin.site.site_title = "Trova admin"


class PendingFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("sent", "Sent")]

    def queryset(self, request, queryset):
        if self.value() in ("pending", "sent"):
            return queryset.filter(sent_at__isnull=self.value() == "pending")
        return queryset


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """Read-only: what waits for the broker and why (marketplace/outbox.py sends and prunes)."""

    list_display = ("created_at", "task", "args", "sent_at", "attempts", "last_error")
    list_filter = (PendingFilter, "task")
    search_fields = ("=request_id",)
    date_hierarchy = "created_at"
    show_full_result_count = False
