"""The run log and prompt versions in admin. Read-only: these are records of what happened."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import PrefillAttempt, PrefillRun, PromptLabel, PromptVersion


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AttemptInline(admin.TabularInline):
    model = PrefillAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "latency_ms", "outcome", "http_status", "error_message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PrefillRun)
class PrefillRunAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at", "thumb", "user", "status", "error_type", "model", "prompt_version",
        "attempts", "provider_latency_ms", "input_tokens", "output_tokens", "cost_usd",
    )  # fmt: skip
    list_filter = ("status", "error_type", "provider", "model", "prompt_version", "created_at")
    search_fields = ("id", "user__username", "user__email", "image_sha256", "error_message")
    list_select_related = ("user", "prompt_version")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    inlines = [AttemptInline]
    fieldsets = (
        (None, {"fields": ("photo_and_draft",)}),
        (
            "Configuration",
            {"fields": ("id", "user", "provider", "model", "prompt_version", "params_pretty")},
        ),
        ("Outcome", {"fields": ("status", "attempts", "error_type", "error_message")}),
        ("Timing", {"fields": ("created_at", "started_at", "finished_at", "provider_latency_ms")}),
        (
            "Usage",
            {
                "fields": (
                    "input_tokens",
                    "output_tokens",
                    "cached_tokens",
                    "cost_usd",
                    "image_bytes_sent",
                    "image_sha256",
                )
            },
        ),
        ("Raw response", {"fields": ("raw_pretty",)}),
    )
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    @admin.display(description="")
    def thumb(self, run):
        url = reverse("prefill-photo", args=[run.pk]) + "?size=thumb"
        return format_html('<img src="{}" alt="" style="height:40px">', url)

    @admin.display(description="Photo and draft")
    def photo_and_draft(self, run):
        url = reverse("prefill-photo", args=[run.pk])
        return format_html(
            '<div style="display:flex;gap:1.5rem;align-items:flex-start">'
            '<img src="{}" alt="" style="max-width:420px;max-height:420px">'
            "<pre style='white-space:pre-wrap;max-width:520px'>{}</pre></div>",
            url,
            _pretty(run.draft) if run.draft else "(no draft)",
        )

    @admin.display(description="Params")
    def params_pretty(self, run):
        return format_html("<pre>{}</pre>", _pretty(run.params))

    @admin.display(description="Raw response")
    def raw_pretty(self, run):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", _pretty(run.raw_response))


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdmin):
    list_display = ("label", "name", "description", "created_at", "labels_list")
    list_filter = ("name",)
    search_fields = ("name", "content_hash", "description", "instructions")
    readonly_fields = (
        "name", "content_hash", "schema_hash", "description", "source_path", "created_at",
        "instructions", "user_text", "params",
    )  # fmt: skip

    @admin.display(description="Labels")
    def labels_list(self, version):
        return ", ".join(label.name for label in version.labels.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("labels")


@admin.register(PromptLabel)
class PromptLabelAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "moved_by", "moved_at")
    list_select_related = ("version", "moved_by")


def _pretty(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
