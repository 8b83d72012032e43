"""The AI pre-fill in admin.

Records of what happened are read-only (the run log, prompt versions, label moves, eval runs).
Eval cases are edited here, with history. Custom pages (prompt diff, run comparison, a case's
private image) go in through `get_urls()` + `admin_site.admin_view()`, so they are staff-only,
and each also checks the model's view permission.
"""

import contextlib
import difflib
import json
import uuid
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Subquery
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

from marketplace.admin_bases import ReadOnlyAdmin
from marketplace.photos import ALLOWED_HUMAN, PhotoRejected, photo_process

from .evals.cases import CASE_SETTINGS, eval_case_create, eval_case_update
from .evals.comparison_view import (
    comparison_rows,
    eval_case_thumbnail,
    eval_runs_compare,
    eval_runs_get,
    eval_runs_recent,
    metrics_rows,
    metrics_summary_rows,
)
from .evals.queueing import eval_run_enqueue, eval_run_enqueued_state
from .evals.runner import EvalRunBroken
from .execution import prefill_runs_fail_stale
from .models import (
    EvalCase,
    EvalRun,
    PrefillAttempt,
    PrefillRun,
    ProductionConfig,
    PromptLabel,
    PromptLabelEvent,
    PromptVersion,
)
from .prompt_registry import prompt_label_move, prompt_version_production
from .providers import BaselineProvider, OpenAIProvider
from .rollout import production_config, production_config_restore
from .schema import DRAFT_FIELDS
from .selectors import (
    eval_case_image_get,
    prompt_label_events_for,
    prompt_label_get,
    prompt_versions_for_picker,
    prompt_versions_get,
)


def _page_context(model_admin, request, title: str) -> dict:
    """What admin/base_site.html needs for a custom page of this model (breadcrumbs, sidebar)."""
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
    }


def _int_param(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() else None


def _require_view(model_admin, request) -> None:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied


# --- the run log ------------------------------------------------------------------------------

# What apps above this one know about a run (the seller's rating from feedback, the listing made
# from it from listings) is shown on the run page through this hook, since ai_prefill imports
# none of them: each registers, from its own admin.py, a title and a function of the run that
# returns safe HTML ("" when it has nothing to say).
RunPageSection = Callable[[PrefillRun], str]
_run_page_sections: dict[str, RunPageSection] = {}


def run_page_section_register(*, title: str, render: RunPageSection) -> None:
    _run_page_sections[title] = render


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
    # Paired columns (status and error, model and prompt, tokens in and out) and short headers,
    # so that every column fits a 1440 px screen beside the navigation and the filters.
    list_display = (
        "created", "thumb", "user", "status_and_error", "variant",
        "attempts", "latency", "tokens", "cost",
    )  # fmt: skip
    list_filter = ("status", "error_type", "provider", "model", "prompt_version", "created_at")
    # "=request_id": an exact match, so a request id from a log line finds its run at once.
    search_fields = (
        "id", "user__username", "user__email", "image_sha256", "error_message", "=request_id",
    )  # fmt: skip
    list_select_related = ("user", "prompt_version")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    inlines = [AttemptInline]
    fieldsets = (
        (None, {"fields": ("photo_and_draft",)}),
        (
            "Configuration",
            {
                "fields": (
                    "id",
                    "request_id",
                    "user",
                    "provider",
                    "model",
                    "prompt_version",
                    "params_pretty",
                )
            },  # fmt: skip
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
        ("Seller and listing", {"fields": ("seller_and_listing",)}),
        ("Raw response", {"fields": ("raw_pretty",)}),
    )
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def changelist_view(self, request, extra_context=None):
        # Runs nobody finished in time read as failed here too, with or without a beat running.
        prefill_runs_fail_stale()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        with contextlib.suppress(ValueError):  # not a run id: the admin says it does not exist
            prefill_runs_fail_stale(run_ids=[uuid.UUID(object_id)])
        return super().change_view(request, object_id, form_url, extra_context)

    class Media:
        css = {"all": ["ai_prefill/run_list.css"]}

    @admin.display(description="created", ordering="created_at")
    def created(self, run):
        moment = timezone.localtime(run.created_at)
        return _two_lines(moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M:%S"))

    @admin.display(description="status", ordering="status")
    def status_and_error(self, run):
        return _two_lines(run.get_status_display(), run.get_error_type_display())

    @admin.display(description="model / prompt", ordering="model")
    def variant(self, run):
        return _two_lines(run.model, run.prompt_version)

    @admin.display(description="latency", ordering="provider_latency_ms")
    def latency(self, run):
        ms = run.provider_latency_ms
        if ms is None:
            return "–"
        return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"

    @admin.display(description="tokens in / out", ordering="input_tokens")
    def tokens(self, run):
        if run.input_tokens is None and run.output_tokens is None:
            return "–"
        counts = [f"{n:,}" if n is not None else "–" for n in (run.input_tokens, run.output_tokens)]
        return _two_lines(*counts)

    @admin.display(description="cost", ordering="cost_usd")
    def cost(self, run):
        return "–" if run.cost_usd is None else f"${run.cost_usd:.6f}"

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
            "<pre style='white-space:pre-wrap;max-width:520px'>{}</pre></div>{}",
            url,
            _pretty(run.draft) if run.draft else "(no draft)",
            self._model_image_link(run),
        )

    def _model_image_link(self, run):
        if not run.model_image:
            return ""
        url = reverse("prefill-photo", args=[run.pk]) + "?size=model"
        sent = f" ({run.image_bytes_sent:,} bytes sent)" if run.image_bytes_sent else ""
        return format_html('<p><a href="{}">The image the model was sent</a>{}</p>', url, sent)

    @admin.display(description="From feedback and listings")
    def seller_and_listing(self, run):
        sections = [(title, render(run)) for title, render in _run_page_sections.items()]
        return (
            format_html_join(
                "", "<p><strong>{}:</strong> {}</p>", [(t, html) for t, html in sections if html]
            )
            or "–"
        )

    @admin.display(description="Params")
    def params_pretty(self, run):
        return format_html("<pre>{}</pre>", _pretty(run.params))

    @admin.display(description="Raw response")
    def raw_pretty(self, run):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", _pretty(run.raw_response))


# --- prompt versions and the production label -------------------------------------------------


def _two_lines(first, second) -> str:
    """A list cell holding two values: the second smaller, under the first (left out if empty)."""
    if not second:
        return format_html("{}", first)
    return format_html('{}<br><span class="quiet">{}</span>', first, second)


def _diff_url(a_id, b_id) -> str:
    return reverse("admin:ai_prefill_promptversion_diff") + "?" + urlencode({"a": a_id, "b": b_id})


def _can_move_labels(request) -> bool:
    """Moving production changes what every seller gets: the same right as changing a
    PromptLabel row (superusers have it; grant `ai_prefill.change_promptlabel` to others)."""
    return request.user.has_perm("ai_prefill.change_promptlabel")


@admin.register(PromptVersion)
class PromptVersionAdmin(ReadOnlyAdmin):
    list_display = ("label", "name", "description", "created_at", "labels_list")
    list_filter = ("name",)
    search_fields = ("name", "content_hash", "description", "instructions")
    readonly_fields = (
        "name", "labels_list", "content_hash", "schema_hash", "description", "source_path",
        "created_at", "instructions", "user_text", "params", "label_history",
    )  # fmt: skip
    actions = ["compare_versions", "move_production_label"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("labels")

    def get_urls(self):
        diff = path(
            "diff/",
            self.admin_site.admin_view(self.diff_view),
            name="ai_prefill_promptversion_diff",
        )
        return [diff, *super().get_urls()]

    def has_move_label_permission(self, request):
        return _can_move_labels(request)

    @admin.display(description="Labels")
    def labels_list(self, version):
        return ", ".join(label.name for label in version.labels.all())

    @admin.display(description="Label moves to or from this version")
    def label_history(self, version):
        events = prompt_label_events_for(version=version)
        return render_to_string(
            "admin/ai_prefill/promptversion/_label_history.html",
            {"events": events, "all_url": reverse("admin:ai_prefill_promptlabelevent_changelist")},
        )

    @admin.action(description="Compare two selected versions")
    def compare_versions(self, request, queryset):
        ids = list(queryset.order_by("created_at", "id").values_list("pk", flat=True)[:3])
        if len(ids) != 2:
            self.message_user(request, "Select exactly two versions to compare.", messages.WARNING)
            return None
        return HttpResponseRedirect(_diff_url(*ids))

    @admin.action(
        description="Move the production label to this version", permissions=["move_label"]
    )
    def move_production_label(self, request, queryset):
        versions = list(queryset[:2])
        if len(versions) != 1:
            self.message_user(request, "Select exactly one version.", messages.WARNING)
            return None
        version = versions[0]
        current = prompt_label_get(name=PromptLabel.PRODUCTION)
        if current is not None and current.version_id == version.pk:
            self.message_user(request, f"{version} is production already.", messages.WARNING)
            return None
        if request.POST.get("confirm") != "yes":
            return self._move_confirmation(request, version, current)
        event = prompt_label_move(
            label=PromptLabel.PRODUCTION,
            version=version,
            user=request.user,
            note=request.POST.get("note", "").strip()[:200],
        )
        before = event.from_version or "no version"
        self.message_user(request, f"Moved production from {before} to {version}.")
        return None

    def _move_confirmation(self, request, version, current):
        context = {
            **_page_context(self, request, f"Move production to {version}?"),
            "version": version,
            "current": current.version if current else None,
            "diff_url": _diff_url(current.version_id, version.pk) if current else None,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/ai_prefill/promptversion/move_label_confirm.html", context
        )

    def diff_view(self, request):
        _require_view(self, request)
        choices = prompt_versions_for_picker()
        a_id, b_id = _int_param(request, "a"), _int_param(request, "b")
        chosen = prompt_versions_get(ids=[a_id, b_id])
        a, b = chosen.get(a_id), chosen.get(b_id)
        full = request.GET.get("full") == "1"
        context = {
            **_page_context(self, request, "Compare prompt versions"),
            "choices": choices,
            "a": a,
            "b": b,
            "full": full,
            "sections": _prompt_diff(a, b, full=full) if a and b else [],
        }
        return TemplateResponse(request, "admin/ai_prefill/promptversion/diff.html", context)


def _prompt_diff(a: PromptVersion, b: PromptVersion, *, full: bool) -> list[dict]:
    """Side-by-side tables of everything that reaches the model (HtmlDiff escapes the text)."""
    parts = (
        ("Instructions", a.instructions, b.instructions),
        ("User text", a.user_text, b.user_text),
        ("Params", _pretty(a.params), _pretty(b.params)),
        ("Schema hash", a.schema_hash, b.schema_hash),
        ("Description (not sent to the model)", a.description, b.description),
    )
    differ = difflib.HtmlDiff()  # no wrapcolumn: the page's CSS wraps at the column width
    sections = []
    for title, old, new in parts:
        table = differ.make_table(
            old.splitlines(),
            new.splitlines(),
            escape(a.label),  # the column titles are the only text HtmlDiff does not escape
            escape(b.label),
            context=not full,
            numlines=3,
        )
        sections.append({"title": title, "same": old == new, "table": mark_safe(table)})  # noqa: S308
    return sections


@admin.register(PromptLabel)
class PromptLabelAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "moved_by", "moved_at")
    list_select_related = ("version", "moved_by")


@admin.register(PromptLabelEvent)
class PromptLabelEventAdmin(ReadOnlyAdmin):
    """Every label move. Rolling back is moving the label again: select the version in
    "Prompt versions" and run "Move the production label to this version"."""

    list_display = ("moved_at", "label", "from_version", "to_version", "moved_by", "note", "diff")
    list_select_related = ("from_version", "to_version", "moved_by")
    search_fields = ("note", "from_version__content_hash", "to_version__content_hash")

    @admin.display(description="")
    def diff(self, event):
        if event.from_version_id is None:
            return ""
        return format_html(
            '<a href="{}">diff</a>', _diff_url(event.from_version_id, event.to_version_id)
        )


# --- the production configuration -------------------------------------------------------------


RESTORABLE_ROWS = 500  # the history of production changes: a few a month


@admin.register(ProductionConfig)
class ProductionConfigAdmin(ReadOnlyAdmin):
    """What sellers outside an experiment get, change by change (a ship, a roll back). The
    newest row is in force; rolling back to an earlier one is a new row with its values,
    through the same service as a ship. Needs `ai_prefill.change_productionconfig`."""

    list_display = (
        "changed_at", "changed_by", "enabled", "prompt_version", "provider", "model", "note",
        "experiment_key", "roll_back",
    )  # fmt: skip
    list_select_related = ("prompt_version", "changed_by")
    list_display_links = None
    show_full_result_count = False

    def get_urls(self):
        restore = path(
            "<int:pk>/restore/",
            self.admin_site.admin_view(self.restore_view),
            name="ai_prefill_productionconfig_restore",
        )
        return [restore, *super().get_urls()]

    def _may_restore(self, request) -> bool:
        return request.user.has_perm("ai_prefill.change_productionconfig")

    def get_queryset(self, request):
        newest = ProductionConfig.objects.order_by("-changed_at", "-id").values("pk")[:1]
        return super().get_queryset(request).annotate(newest_id=Subquery(newest))

    def get_list_display(self, request):
        if self._may_restore(request):
            return self.list_display
        return tuple(name for name in self.list_display if name != "roll_back")

    def changelist_view(self, request, extra_context=None):
        # The roll-back forms sit outside the changelist's own form (forms do not nest); each
        # row's button names its form.
        earlier = ProductionConfig.objects.values_list("pk", flat=True)[1:RESTORABLE_ROWS]
        context = {
            **(extra_context or {}),
            "in_force": production_config().describe(),
            "from_environment": not ProductionConfig.objects.exists(),
            "restorable": list(earlier) if self._may_restore(request) else [],
        }
        return super().changelist_view(request, context)

    @admin.display(description="")
    def roll_back(self, row):
        if row.pk == row.newest_id:
            return "in force"
        return format_html(
            '<button type="submit" class="button" form="restore-{}">Roll back to this</button>',
            row.pk,
        )

    def restore_view(self, request, pk):
        if request.method != "POST":
            return HttpResponse(status=405, headers={"Allow": "POST"})
        if not self._may_restore(request):
            raise PermissionDenied
        row = ProductionConfig.objects.select_related("prompt_version").filter(pk=pk).first()
        if row is None:
            raise Http404
        production_config_restore(row=row, actor=request.user)
        now = production_config().describe()
        self.message_user(request, f"Rolled back: production is now {now}.")
        return HttpResponseRedirect(reverse("admin:ai_prefill_productionconfig_changelist"))


# --- eval cases -------------------------------------------------------------------------------


class EvalCaseForm(forms.ModelForm):
    photo = forms.FileField(
        required=False,
        label="Upload a photo",
        widget=forms.FileInput(attrs={"accept": "image/*"}),
        help_text=f"{ALLOWED_HUMAN}. Required for a new case; on an existing case it replaces "
        "the photo (and so changes the case's content hash: old runs no longer pair with it).",
    )

    class Meta:
        model = EvalCase
        fields = (
            "key", "is_active", "must_pass", "tags", "expected_title", "expected_description",
            "expected_category", "expected_condition", "expected_brand", "expected_color",
            "expected_price_eur", "key_attributes",
        )  # fmt: skip
        widgets = {
            "tags": forms.Textarea(attrs={"rows": 2, "cols": 60}),
            "key_attributes": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }

    def clean_photo(self):
        """The upload goes through the same intake as a seller's photo: a ProcessedPhoto."""
        upload = self.cleaned_data.get("photo")
        if not upload:
            if self.instance.pk is None:
                raise forms.ValidationError("A new case needs a photo.", code="required")
            return None
        try:
            return photo_process(upload)
        except PhotoRejected as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None


def _case_image_url(case: EvalCase, *, thumbnail: bool = False) -> str:
    # The sha in the URL: a replaced photo gets a new URL, so the browser cache never lies.
    query = {"v": case.image_sha256[:12], **({"size": "thumb"} if thumbnail else {})}
    url = reverse("admin:ai_prefill_evalcase_image", args=[case.pk])
    return url + "?" + urlencode(query)


@admin.register(EvalCase)
class EvalCaseAdmin(SimpleHistoryAdmin):
    form = EvalCaseForm
    list_display = (
        "thumb", "key", "expected_category", "expected_condition", "tags_list", "must_pass",
        "source", "is_active",
    )  # fmt: skip
    list_display_links = ("thumb", "key")
    list_filter = ("source", "must_pass", "is_active", "expected_category")
    search_fields = ("key", "expected_title", "expected_brand", "expected_description", "tags")
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("image_preview", "photo", "key", "is_active", "must_pass", "tags")}),
        (
            "Expected answer",
            {
                "fields": (
                    "expected_title",
                    "expected_description",
                    "expected_category",
                    "expected_condition",
                    "expected_brand",
                    "expected_color",
                    "expected_price_eur",
                    "key_attributes",
                )
            },
        ),
        (
            "Provenance",
            {
                "fields": (
                    "source",
                    "source_run",
                    "created_by",
                    "created_at",
                    "updated_at",
                    "image_sha256",
                )
            },
        ),
    )
    readonly_fields = (
        "image_preview", "source", "source_run", "created_by", "created_at", "updated_at",
        "image_sha256",
    )  # fmt: skip

    def get_urls(self):
        image = path(
            "<int:pk>/image/",
            self.admin_site.admin_view(self.image_view),
            name="ai_prefill_evalcase_image",
        )
        return [image, *super().get_urls()]

    def image_view(self, request, pk):
        """The case's private photo (?size=thumb for a small one), for staff who may view cases."""
        _require_view(self, request)
        case = eval_case_image_get(pk=pk)
        if case is None or not case.image or not case.image.storage.exists(case.image.name):
            raise Http404
        if request.GET.get("size") == "thumb":
            response = HttpResponse(eval_case_thumbnail(case=case), content_type="image/jpeg")
        else:
            response = FileResponse(case.image.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=86400"
        return response

    def save_model(self, request, obj, form, change):
        """Through the eval-case services: they hold the image, hash and provenance rules."""
        data = form.cleaned_data
        photo = data.get("photo")
        image = photo.display if photo is not None else None
        changes = {
            **{name: data[f"expected_{name}"] for name in DRAFT_FIELDS},
            **{name: data[name] for name in CASE_SETTINGS},
        }
        if change:
            eval_case_update(case=obj, actor=request.user, changes=changes, image=image)
            return
        case_settings = {name: changes.pop(name) for name in CASE_SETTINGS}
        case = eval_case_create(
            **case_settings, image=image, values=changes, source=EvalCase.Source.STAFF,
            created_by=request.user,
        )  # fmt: skip
        obj.pk = case.pk  # the admin's message, log entry and redirect name the new case

    @admin.display(description="")
    def thumb(self, case):
        if not case.image:
            return ""
        return format_html(
            '<img src="{}" alt="" loading="lazy" style="height:48px;width:48px;object-fit:cover">',
            _case_image_url(case, thumbnail=True),
        )

    @admin.display(description="Current photo")
    def image_preview(self, case):
        if case is None or not case.pk or not case.image:
            return "(none yet)"
        return format_html(
            '<a href="{0}"><img src="{0}" alt="" style="max-width:360px;max-height:360px"></a>',
            _case_image_url(case),
        )

    @admin.display(description="Tags")
    def tags_list(self, case):
        return ", ".join(case.tags or [])


# --- eval runs --------------------------------------------------------------------------------


def _compare_url(a_id=None, b_id=None) -> str:
    url = reverse("admin:ai_prefill_evalrun_compare")
    query = {k: v for k, v in (("a", a_id), ("b", b_id)) if v is not None}
    return url + ("?" + urlencode(query) if query else "")


@admin.register(EvalRun)
class EvalRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "created_at", "prompt_version", "provider", "model", "dataset_version", "items",
        "gate", "cost_usd", "cached_count", "status",
    )  # fmt: skip
    list_filter = ("gate_passed", "provider", "model", "prompt_version", "status")
    list_select_related = ("prompt_version",)
    search_fields = ("id", "dataset_version", "config_key", "model")
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["compare_runs"]
    fieldsets = (
        (None, {"fields": ("gate_verdict", "compare_links")}),
        ("Metrics", {"fields": ("metrics_table",)}),
        ("Comparison with the baseline", {"fields": ("comparison_table",)}),
        (
            "Configuration",
            {
                "fields": (
                    "prompt_version",
                    "provider",
                    "model",
                    "params_pretty",
                    "config_key",
                    "dataset_version",
                    "tags",
                    "limit",
                    "repeats",
                    "case_count",
                    "baseline",
                )
            },
        ),
        (
            "Run",
            {
                "fields": (
                    "status",
                    "error_message",
                    "created_by",
                    "created_at",
                    "finished_at",
                    "cost_usd",
                    "cached_count",
                )
            },
        ),
    )
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("prompt_version", "baseline__prompt_version", "created_by")
        )

    def get_urls(self):
        compare = path(
            "compare/",
            self.admin_site.admin_view(self.compare_view),
            name="ai_prefill_evalrun_compare",
        )
        start = path(
            "start/",
            self.admin_site.admin_view(self.start_view),
            name="ai_prefill_evalrun_start",
        )
        return [compare, start, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_start": _can_start_eval_run(request)}
        return super().changelist_view(request, extra_context=extra_context)

    def start_view(self, request):
        """Start an eval run on the evals queue (an evals worker runs it; this page returns at
        once). Needs ai_prefill.start_evalrun: a run costs provider calls."""
        if not _can_start_eval_run(request):
            raise PermissionDenied
        form = EvalRunStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = eval_run_enqueue(**form.cleaned_data, user=request.user)
            except EvalRunBroken as exc:
                form.add_error(None, str(exc))
            else:
                state = eval_run_enqueued_state(run)
                self.message_user(request, f"Eval run {run.pk} {state}: {run}.")
                return HttpResponseRedirect(reverse("admin:ai_prefill_evalrun_changelist"))
        context = {**_page_context(self, request, "Start an eval run"), "form": form}
        return TemplateResponse(request, "admin/ai_prefill/evalrun/start.html", context)

    @admin.display(description="items / cases")
    def items(self, run):
        return f"{(run.metrics or {}).get('n', '–')} / {run.case_count}"

    @admin.display(description="gate passed", boolean=True, ordering="gate_passed")
    def gate(self, run):
        return run.gate_passed

    @admin.display(description="Gate")
    def gate_verdict(self, run):
        if run.gate_passed is None:
            return "no verdict (the run did not complete)"
        if run.gate_passed:
            return format_html("<strong>{}</strong>", "passed")
        reasons = format_html_join("", "<li>{}</li>", ((reason,) for reason in run.gate_reasons))
        return format_html("<strong>failed</strong><ul>{}</ul>", reasons)

    @admin.display(description="Compare")
    def compare_links(self, run):
        another = format_html('<a href="{}">with another run…</a>', _compare_url(b_id=run.pk))
        if run.baseline_id is None:
            return format_html("{} (this run has no baseline)", another)
        return format_html(
            '<a href="{}">with its baseline, run {}</a> · {}',
            _compare_url(run.baseline_id, run.pk),
            run.baseline_id,
            another,
        )

    @admin.display(description="Per field")
    def metrics_table(self, run):
        return render_to_string(
            "admin/ai_prefill/evalrun/_metrics.html",
            {"rows": metrics_rows(run.metrics), "summary": metrics_summary_rows(run.metrics)},
        )

    @admin.display(description="Paired tests")
    def comparison_table(self, run):
        return render_to_string(
            "admin/ai_prefill/evalrun/_comparison.html",
            {"comparison": run.comparison, "rows": comparison_rows(run.comparison)},
        )

    @admin.display(description="Params")
    def params_pretty(self, run):
        return format_html("<pre>{}</pre>", _pretty(run.params))

    @admin.action(description="Compare the two selected runs")
    def compare_runs(self, request, queryset):
        ids = list(queryset.order_by("created_at", "id").values_list("pk", flat=True)[:3])
        if len(ids) != 2:
            self.message_user(request, "Select exactly two runs to compare.", messages.WARNING)
            return None
        return HttpResponseRedirect(_compare_url(*ids))  # the older run is A, the newer B

    def compare_view(self, request):
        """Any two runs, case by case: /admin/ai_prefill/evalrun/compare/?a=<id>&b=<id>."""
        _require_view(self, request)
        asked = [request.GET.get("a", ""), request.GET.get("b", "")]
        a_id, b_id = _int_param(request, "a"), _int_param(request, "b")
        runs = eval_runs_get(ids=[i for i in (a_id, b_id) if i is not None])
        run_a, run_b = runs.get(a_id), runs.get(b_id)
        context = {
            **_page_context(self, request, "Compare eval runs"),
            "recent": eval_runs_recent(),
            "a_id": asked[0],
            "b_id": asked[1],
            "comparison": None,
            "missing": [v for v, run in zip(asked, (run_a, run_b), strict=True) if v and not run],
        }
        if run_a and run_b:
            context["comparison"] = eval_runs_compare(run_a=run_a, run_b=run_b)
            if run_a.prompt_version_id != run_b.prompt_version_id:
                context["prompt_diff_url"] = _diff_url(
                    run_a.prompt_version_id, run_b.prompt_version_id
                )
        return TemplateResponse(request, "admin/ai_prefill/evalrun/compare.html", context)


def _can_start_eval_run(request) -> bool:
    return request.user.has_perm("ai_prefill.start_evalrun")


class EvalRunStartForm(forms.Form):
    """What a queued eval run is: the same choices as run_evals, its defaults production's."""

    prompt_version = forms.ModelChoiceField(
        queryset=PromptVersion.objects.order_by("name", "-created_at"),
        help_text="Production's unless you pick another.",
    )
    provider = forms.ChoiceField(
        choices=[(p.name, p.name) for p in (OpenAIProvider, BaselineProvider)]
    )
    model = forms.CharField(max_length=80, help_text="Ignored by the baseline provider.")
    tags = forms.CharField(
        required=False, help_text="Comma-separated; cases must carry all of them."
    )
    limit = forms.IntegerField(required=False, min_value=1, help_text="Empty: every case.")
    repeats = forms.IntegerField(
        min_value=1, max_value=20, initial=1, help_text="Answers per case."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        production = production_config()
        self.fields["prompt_version"].initial = prompt_version_production()
        self.fields["provider"].initial = production.provider or settings.AI_PROVIDER
        self.fields["model"].initial = production.model or settings.AI_MODEL

    def clean_tags(self) -> tuple[str, ...]:
        return tuple(tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip())


def _pretty(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
