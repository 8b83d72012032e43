"""The annotation queue in admin: the task list with "Next task", the review page, promotion to
the eval set, adjudication and the agreement page.

Annotators (group "Annotators": staff with view on tasks and annotations, add on annotations)
see only this section. They work through custom pages added with `get_urls()` +
`admin_site.admin_view()`; every page also checks its permission. Writes go through
`annotation.services`, reads through `annotation.selectors`; errors (a lost lease, missing
values) come back as messages. Tasks and annotations are read-only here: their state changes
only through the services (claim, submit, skip, adjudicate, promote).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from ai_prefill.schema import DRAFT_FIELDS
from feedback.selectors import ratings_for_run
from marketplace.admin_bases import ReadOnlyAdmin, ReportPageAdmin
from marketplace.taxonomy import Category, Condition

from . import selectors, services
from .models import AgreementReport, Annotation, AnnotationTask, SamplingPolicy

Status = AnnotationTask.Status

FIELD_LABELS = {
    "title": "Title",
    "description": "Description",
    "category": "Category",
    "condition": "Condition",
    "brand": "Brand",
    "color": "Colour",
    "price_eur": "Price (EUR)",
}


def _can_annotate(request) -> bool:
    return request.user.has_perm("annotation.add_annotation")


def _can_review(request) -> bool:
    """Annotators open the review page; superusers may look at any task."""
    return _can_annotate(request) or request.user.is_superuser


def _is_lead(request) -> bool:
    """Staff who see agreement, adjudicate and promote in bulk (superusers, or granted
    `annotation.change_annotationtask`)."""
    return request.user.has_perm("annotation.change_annotationtask")


# --- forms ------------------------------------------------------------------------------------


class ValuesForm(forms.Form):
    """The correct value for every draft field."""

    title = forms.CharField(max_length=120, label="Title", required=False)
    description = forms.CharField(
        required=False, label="Description", widget=forms.Textarea(attrs={"rows": 4})
    )
    category = forms.ChoiceField(choices=[("", "---------"), *Category.choices], label="Category")
    condition = forms.ChoiceField(
        choices=[("", "---------"), *Condition.choices], label="Condition"
    )
    brand = forms.CharField(max_length=80, required=False, label="Brand")
    color = forms.CharField(max_length=40, required=False, label="Colour")
    price_eur = forms.DecimalField(
        max_digits=9, decimal_places=2, min_value=0, required=False, label="Price (EUR)"
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].widget.attrs["autofocus"] = True
        for name in DRAFT_FIELDS:
            self.fields[name].widget.attrs.setdefault("class", "vTextField")

    def values(self) -> dict:
        """In the draft's shape: blank brand/colour/price are None, the price a float."""
        data = self.cleaned_data
        price = data.get("price_eur")
        return {
            "title": data["title"].strip(),
            "description": (data.get("description") or "").strip(),
            "category": data["category"],
            "condition": data["condition"],
            "brand": (data.get("brand") or "").strip() or None,
            "color": (data.get("color") or "").strip() or None,
            "price_eur": float(price) if price is not None else None,
        }


class ReviewForm(ValuesForm):
    key_attributes = forms.CharField(
        required=False,
        help_text="Comma-separated words a good title or description mentions: oak, chair.",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    promote = forms.BooleanField(required=False, label="Promote to eval set")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notes"].label = "Notes"
        self.fields["key_attributes"].label = "Key attributes"

    def key_attribute_list(self) -> list[str]:
        words = (w.strip() for w in self.cleaned_data.get("key_attributes", "").split(","))
        return list(dict.fromkeys(w for w in words if w))


class AdjudicateForm(ValuesForm):
    promote = forms.BooleanField(required=False, label="Promote to eval set")


def _task_to_review(request, task_id) -> tuple[AnnotationTask, bool]:
    """The task for the review page and its live verdicts, and whether this user may work on it
    (holds its claim; superusers may open any)."""
    if not _can_review(request):
        raise PermissionDenied
    task = selectors.task_for_review(task_id=task_id)
    if task is None:
        raise Http404
    holds = services.task_held_by(task=task, annotator=request.user)
    return task, holds or request.user.is_superuser


def _initial_values(values: dict) -> dict:
    return {name: "" if values.get(name) is None else values[name] for name in DRAFT_FIELDS}


def _posted_values(request) -> dict:
    """The field values as typed (not yet valid, perhaps): what the verdict column follows.
    `same_value` reads them as the cleaned form would (blank is None, "12.50" is 12.5)."""
    return {name: request.POST.get(name, "") for name in DRAFT_FIELDS}


# --- list filters -----------------------------------------------------------------------------


class CategoryFilter(admin.SimpleListFilter):
    """From the taxonomy, not a DISTINCT over the whole table."""

    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        return [*Category.choices, ("unknown", "Unknown")]

    def queryset(self, request, queryset):
        return selectors.tasks_in_category(tasks=queryset, category=self.value())


class LeaseFilter(admin.SimpleListFilter):
    title = "claim"
    parameter_name = "claim"

    def lookups(self, request, model_admin):
        return [("mine", "Claimed by me"), ("held", "Claimed (lease running)"), ("free", "Free")]

    def queryset(self, request, queryset):
        return selectors.tasks_by_claim(tasks=queryset, claim=self.value(), user=request.user)


# --- the queue --------------------------------------------------------------------------------


@admin.register(AnnotationTask)
class AnnotationTaskAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "reason", "reason_detail", "category", "status", "required_annotations",
        "claimed_by", "lease", "created_at", "promoted",
    )  # fmt: skip
    list_filter = ("status", "reason", CategoryFilter, "required_annotations", LeaseFilter)
    list_select_related = ("claimed_by",)
    search_fields = ("=id", "reason_detail")
    # Read-only (ReadOnlyAdmin): no field is edited by hand. The raw ids keep a
    # form that ever edits one of these from rendering a <select> of every run, user or case.
    raw_id_fields = ("run", "claimed_by", "promote_requested_by", "promoted_case")
    date_hierarchy = "created_at"
    list_per_page = 50
    show_full_result_count = False
    ordering = ("-created_at",)  # the created_at index: cheap on a big queue
    actions = ["promote_to_eval_set"]

    # Read-only (ReadOnlyAdmin): tasks come from the sampling policy; status, claims and final
    # values change only through the services (claim, submit, skip, adjudicate, promote), and
    # leads keep `change_annotationtask` for those pages; a deleted task would let its run be
    # sampled again, its annotations gone.

    def has_promote_permission(self, request):
        return _is_lead(request)

    def get_urls(self):
        def view(fn):
            return self.admin_site.admin_view(fn)

        return [
            path("next/", view(self.next_view), name="annotation_task_next"),
            path("<int:task_id>/review/", view(self.review_view), name="annotation_task_review"),
            path("<int:task_id>/photo/", view(self.photo_view), name="annotation_task_photo"),
            path(
                "<int:task_id>/verdicts/",
                view(self.verdicts_view),
                name="annotation_task_verdicts",
            ),
            path("agreement/", view(self.agreement_view), name="annotation_agreement"),
            path("adjudicate/", view(self.adjudicate_list_view), name="annotation_adjudicate"),
            path(
                "<int:task_id>/adjudicate/",
                view(self.adjudicate_view),
                name="annotation_task_adjudicate",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_annotate": _can_annotate(request), "is_lead": _is_lead(request)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    @admin.display(description="lease", ordering="lease_expires_at")
    def lease(self, task):
        if task.lease_expires_at is None:
            return "–"
        if task.lease_expires_at < timezone.now():
            return "expired"
        minutes = int((task.lease_expires_at - timezone.now()).total_seconds() // 60)
        return f"{minutes} min left"

    @admin.display(description="promoted", boolean=True)
    def promoted(self, task):
        return task.promoted_case_id is not None

    @admin.action(description="Promote to the eval set", permissions=["promote"])
    def promote_to_eval_set(self, request, queryset):
        counts = services.eval_cases_promote(tasks=queryset, annotator=request.user)
        self.message_user(request, f"Promoted {counts.promoted} task(s) to the eval set.")
        if counts.already:
            self.message_user(request, f"{counts.already} were promoted already.", messages.WARNING)
        if counts.refused:
            self.message_user(
                request,
                f"{counts.refused} have no agreed values yet (open or in disagreement): "
                "not promoted.",
                messages.WARNING,
            )

    # --- working the queue --------------------------------------------------------------------

    def _context(self, request, title: str) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title}

    def _changelist(self) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:annotation_annotationtask_changelist"))

    def _claim_next(self, request) -> HttpResponseRedirect:
        task = services.task_claim_next(annotator=request.user)
        if task is None:
            self.message_user(request, "The queue is empty.", messages.INFO)
            return self._changelist()
        return HttpResponseRedirect(reverse("admin:annotation_task_review", args=[task.pk]))

    def next_view(self, request):
        if not _can_annotate(request):
            raise PermissionDenied
        if request.method != "POST":  # a claim is a write: GET only shows the queue
            return self._changelist()
        return self._claim_next(request)

    def photo_view(self, request, task_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        photo = selectors.task_photo(task_id=task_id)
        if photo is None:
            raise Http404
        response = FileResponse(photo.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def review_view(self, request, task_id):
        task, holds = _task_to_review(request, task_id)
        if not holds:
            self.message_user(
                request,
                "This task is not claimed by you any more; take the next one.",
                messages.WARNING,
            )
            return self._changelist()
        draft = task.run.draft
        seller = selectors.seller_final_values(task=task)
        if request.method == "POST":
            response = self._review_post(request, task)
            if isinstance(response, HttpResponseRedirect):
                return response
            form, values = response, _posted_values(request)
        else:
            values = selectors.best_guess(draft=draft, seller=seller)
            form = ReviewForm(initial=_initial_values(values))
        verdicts = services.annotation_verdicts(draft=draft, values=values)
        rows = [
            {
                "name": name,
                "label": FIELD_LABELS[name],
                "draft": (draft or {}).get(name),
                "seller": (seller or {}).get(name),
                "field": form[name],
                "right": verdicts[name],
            }
            for name in DRAFT_FIELDS
        ]
        context = {
            **self._context(request, f"Review task {task.pk}"),
            "task": task,
            "run": task.run,
            "holds": holds,
            "draft": draft,
            "seller": seller,
            "published": seller is not None,
            "ratings": ratings_for_run(run_id=task.run_id),
            "form": form,
            "rows": rows,
            "photo_url": reverse("admin:annotation_task_photo", args=[task.pk]),
            "verdicts_url": reverse("admin:annotation_task_verdicts", args=[task.pk]),
        }
        return TemplateResponse(request, "admin/annotation/annotationtask/review.html", context)

    @method_decorator(require_POST)
    def verdicts_view(self, request, task_id):
        """The verdicts the values typed so far would get, for the review page's verdict column
        (review.js): the service's rule on the server, so the page never defines "the same
        value" a second time. Writes nothing."""
        task, holds = _task_to_review(request, task_id)
        if not holds:
            raise PermissionDenied  # as the review page: only the task one holds
        values = _posted_values(request)
        return JsonResponse(
            {"verdicts": services.annotation_verdicts(draft=task.run.draft, values=values)}
        )

    def _review_post(self, request, task):
        """A redirect when done, else the bound form to show again with its errors."""
        if "_skip" in request.POST:
            try:
                services.annotation_skip(
                    task=task, annotator=request.user, notes=request.POST.get("notes", "")[:2000]
                )
            except PermissionDenied as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return self._changelist()
            self.message_user(request, f"Skipped task {task.pk}; it goes back to the queue.")
            return self._claim_next(request)
        form = ReviewForm(request.POST)
        if not form.is_valid():
            for name, errors in form.errors.items():
                label = form.fields[name].label if name in form.fields else name
                self.message_user(request, f"{label}: {' '.join(errors)}", messages.ERROR)
            return form
        try:
            annotation = services.annotation_submit(
                task=task,
                annotator=request.user,
                values=form.values(),
                notes=form.cleaned_data["notes"],
                key_attributes=form.key_attribute_list(),
                promote=form.cleaned_data["promote"],
            )
        except PermissionDenied as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._changelist()
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return form
        task = annotation.task  # the service's instance: status and case as it left them
        note = f"Submitted task {task.pk} ({task.get_status_display().lower()})"
        if task.promoted_case is not None:
            note += f"; promoted as eval case {task.promoted_case.key}"
        elif form.cleaned_data["promote"]:
            note += "; it is promoted once the second annotator agrees"
        self.message_user(request, note + ".", messages.SUCCESS)
        return self._claim_next(request)

    # --- staff pages --------------------------------------------------------------------------

    def agreement_view(self, request):
        if not _is_lead(request):
            raise PermissionDenied
        return _agreement_page(request, self._context(request, AGREEMENT_TITLE))

    def adjudicate_list_view(self, request):
        if not _is_lead(request):
            raise PermissionDenied
        waiting = selectors.tasks_in_disagreement(limit=25)
        items = [{**item, "table": _labelled(item["table"])} for item in waiting.items]
        context = {
            **self._context(request, "Tasks that need adjudication"),
            "items": items,
            "total": waiting.total,
        }
        return TemplateResponse(
            request, "admin/annotation/annotationtask/adjudicate_list.html", context
        )

    def adjudicate_view(self, request, task_id):
        if not _is_lead(request):
            raise PermissionDenied
        task = selectors.task_for_review(task_id=task_id)
        if task is None:
            raise Http404
        annotations = selectors.task_annotations(task=task)
        if task.status != Status.DISAGREEMENT:
            self.message_user(request, f"Task {task.pk} needs no adjudication.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:annotation_adjudicate"))
        if request.method == "POST":
            form = AdjudicateForm(request.POST)
            if form.is_valid():
                try:
                    services.task_adjudicate(
                        task=task,
                        adjudicator=request.user,
                        values=form.values(),
                        promote=form.cleaned_data["promote"],
                    )
                except ValidationError as exc:
                    self.message_user(request, " ".join(exc.messages), messages.ERROR)
                else:
                    self.message_user(request, f"Task {task.pk} adjudicated.", messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:annotation_adjudicate"))
        else:
            first = annotations[0].values if annotations else (task.run.draft or {})
            form = AdjudicateForm(initial=_initial_values(first))
        context = {
            **self._context(request, f"Adjudicate task {task.pk}"),
            "task": task,
            "run": task.run,
            "table": _labelled(selectors.annotations_side_by_side(annotations=annotations)),
            "form": form,
            "photo_url": reverse("admin:annotation_task_photo", args=[task.pk]),
        }
        return TemplateResponse(request, "admin/annotation/annotationtask/adjudicate.html", context)


def _labelled(table: dict) -> dict:
    """A side-by-side table (selectors.annotations_side_by_side) with the fields' labels."""
    rows = [{**row, "label": FIELD_LABELS[row["field"]]} for row in table["rows"]]
    return {**table, "rows": rows}


# --- annotations, read-only -------------------------------------------------------------------


AGREEMENT_TITLE = "Annotation agreement and throughput"


def _agreement_page(request, context: dict) -> TemplateResponse:
    context = {
        **context,
        "fields": selectors.agreement_by_field(),
        "throughput": selectors.throughput_by_annotator(days=7),
        "counts": selectors.queue_counts(),
        "status_labels": dict(Status.choices),
    }
    return TemplateResponse(request, "admin/annotation/annotationtask/agreement.html", context)


@admin.register(AgreementReport)
class AgreementReportAdmin(ReportPageAdmin):
    """The agreement and throughput page as an entry of the admin index, for leads: the only
    address of this admin is its changelist, which is that page."""

    def has_view_permission(self, request, obj=None):
        return _is_lead(request)

    def changelist_view(self, request, extra_context=None):
        if not _is_lead(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": AnnotationTask._meta,  # breadcrumbs: the queue it reports on
            "title": AGREEMENT_TITLE,
        }
        return _agreement_page(request, context)


@admin.register(Annotation)
class AnnotationAdmin(ReadOnlyAdmin):  # annotations are made on the review page
    """Read-only. Annotators see their own (double annotation stays independent)."""

    list_display = ("id", "task", "annotator", "skipped", "started_at", "submitted_at")
    list_filter = ("skipped", "submitted_at")
    list_select_related = ("task", "annotator")
    search_fields = ("=task__id", "annotator__username", "notes")
    date_hierarchy = "submitted_at"
    show_full_result_count = False
    readonly_fields = (
        "task", "annotator", "values", "verdicts", "key_attributes", "notes", "skipped",
        "started_at", "submitted_at",
    )  # fmt: skip

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return selectors.annotations_visible_to(annotations=queryset, user=request.user)


# --- the sampling policy ----------------------------------------------------------------------


@admin.register(SamplingPolicy)
class SamplingPolicyAdmin(admin.ModelAdmin):
    """One row; superusers edit it."""

    list_display = ("__str__", "random_share", "daily_cap", "double_annotation_share", "updated_at")
    readonly_fields = ("updated_at",)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request):
        return False  # SamplingPolicy.current() makes the row

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        policy = SamplingPolicy.current()
        return HttpResponseRedirect(
            reverse("admin:annotation_samplingpolicy_change", args=[policy.pk])
        )
