"""The Experiment admin: create and edit a draft, start, ramp, pause, end, read the results, ship.

Registered from feedback (imported by feedback/admin.py) because starting and shipping need
ai_prefill and the results need feedback's sell sessions, which the experiments app may not
import. Every write goes through a service (experiments.services, ai_prefill.rollout); the
views here only read the form, call it, and report its answer or its refusal with message_user.

Permissions: the pages need `experiments.view_experiment`, creating `add_experiment`, and every
action (start, ramp, pause, end, acknowledge, ship) `change_experiment`.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ai_prefill.rollout import arm_config_parse, experiment_ship, experiment_start_checked
from experiments import services
from experiments.models import SECONDARY_METRICS, Arm, Experiment, Guardrail
from experiments.selectors import sample_ratio, ship_blockers

from . import experiment_pages as pages
from .experiment_results import experiment_results, experiment_sample_size

PAYLOAD_HELP = (
    'JSON. {} = production; {"ai": "off"} = no AI (plain form); {"prompt_version": "<first 10+ '
    'characters of its hash>", "provider": "openai" or "baseline", "model": "gpt-4.1-mini"}.'
)
GUARDRAIL_HELP = (
    "Breached when the arm's value is above this. Sensible starts: failed or empty drafts "
    "0.10, p95 time to draft 8 (seconds), cost per published listing 0.01 (USD)."
)


# --- forms -------------------------------------------------------------------------------------


class ExperimentForm(forms.ModelForm):
    secondary_metrics = forms.MultipleChoiceField(
        choices=[(metric.value, metric.label) for metric in SECONDARY_METRICS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Reported beside the primary metric (time to publish).",
    )

    class Meta:
        model = Experiment
        fields = (
            "key", "hypothesis", "secondary_metrics", "minimum_effect", "alpha",
            "enrollment_percent",
        )  # fmt: skip


class ArmForm(forms.ModelForm):
    payload = forms.JSONField(required=False, help_text=PAYLOAD_HELP, initial=dict)

    class Meta:
        model = Arm
        fields = ("key", "description", "is_control", "weight", "payload")
        widgets = {"payload": forms.Textarea(attrs={"rows": 2, "cols": 48})}

    def clean_payload(self):
        """The payload must mean a configuration: ai_prefill's parser says what is wrong."""
        payload = self.cleaned_data.get("payload") or {}
        if not isinstance(payload, dict):
            raise ValidationError('The payload is a JSON object, e.g. {} or {"ai": "off"}.')
        arm_config_parse(payload)
        return payload


def _kept_forms(formset):
    """The inline rows that will exist after saving: filled in, not marked for deletion."""
    for form in formset.forms:
        data = getattr(form, "cleaned_data", None)
        if not data or data.get("DELETE"):
            continue
        if form.instance.pk is None and not form.has_changed():
            continue
        yield data


def _arm_specs(formset) -> list[services.ArmSpec]:
    return [
        services.ArmSpec(
            key=data["key"],
            weight=data["weight"],
            payload=data.get("payload") or {},
            is_control=bool(data.get("is_control")),
            description=data.get("description", ""),
        )  # fmt: skip
        for data in _kept_forms(formset)
    ]


def _guardrail_specs(formset) -> list[services.GuardrailSpec]:
    return [
        services.GuardrailSpec(
            metric=data["metric"], threshold=data["threshold"], min_sample=data["min_sample"]
        )
        for data in _kept_forms(formset)
    ]


class ArmFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        services.arms_check(_arm_specs(self))  # its sentence shows above the arms


# --- inlines: part of the experiment, under its permissions -----------------------------------


class _ExperimentPartInline(admin.TabularInline):
    """Arms and guardrails are edited with their experiment, under its permissions, and only
    while it is a draft: once started, the split and the limits are fixed."""

    extra = 0

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("experiments.view_experiment")

    def _may_edit(self, request, obj) -> bool:
        if obj is None:
            return request.user.has_perm("experiments.add_experiment")
        return obj.status == Experiment.Status.DRAFT and request.user.has_perm(
            "experiments.change_experiment"
        )

    def has_add_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may_edit(request, obj)

    def get_extra(self, request, obj=None, **kwargs):
        return self.blank_rows if obj is None else 0


class ArmInline(_ExperimentPartInline):
    model = Arm
    form = ArmForm
    formset = ArmFormSet
    fields = ("key", "description", "is_control", "weight", "payload", "meaning")
    readonly_fields = ("meaning",)
    blank_rows = 2

    @admin.display(description="what it does")
    def meaning(self, arm):
        return pages.arm_meaning(arm.payload) if arm.pk else "–"


class GuardrailForm(forms.ModelForm):
    class Meta:
        model = Guardrail
        fields = ("metric", "threshold", "min_sample")
        help_texts = {"threshold": GUARDRAIL_HELP}


class GuardrailInline(_ExperimentPartInline):
    model = Guardrail
    form = GuardrailForm
    fields = ("metric", "threshold", "min_sample")
    blank_rows = 3


# --- the admin ---------------------------------------------------------------------------------


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    form = ExperimentForm
    inlines = [ArmInline, GuardrailInline]
    list_display = ("key", "status", "enrollment_percent", "started_at", "ended_at", "results")
    list_filter = ("status",)
    search_fields = ("key", "hypothesis")
    readonly_fields = ("primary_metric", "sample_size")
    change_form_template = "admin/experiments/experiment/change_form.html"

    def get_fieldsets(self, request, obj=None):
        settings = ("key", "hypothesis", "primary_metric", "secondary_metrics")
        plan = ("minimum_effect", "alpha", "enrollment_percent")
        if obj is not None:
            plan = (*plan, "sample_size")
        return ((None, {"fields": settings}), ("Plan", {"fields": plan}))

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Experiment.Status.DRAFT:
            return (*ExperimentForm.Meta.fields, "primary_metric", "sample_size")
        return self.readonly_fields

    def get_urls(self):
        def view(function, suffix):
            wrapped = self.admin_site.admin_view(function)
            name = f"experiments_experiment_{suffix}"
            return path(f"<path:object_id>/{suffix}/", wrapped, name=name)

        return [
            view(self.results_view, "results"),
            view(self.ship_view, "ship"),
            path(
                "<path:object_id>/do/<slug:action>/",
                self.admin_site.admin_view(self.action_view),
                name="experiments_experiment_action",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="results")
    def results(self, experiment):
        if experiment.status == Experiment.Status.DRAFT:
            return "–"
        url = reverse("admin:experiments_experiment_results", args=[experiment.pk])
        return format_html('<a href="{}">results</a>', url)

    @admin.display(description="Sample size needed")
    def sample_size(self, experiment):
        plan = pages.sample_size_words(experiment_sample_size(experiment=experiment))
        return render_to_string(
            "admin/experiments/experiment/_sample_size.html",
            {"plan": plan, "experiment": experiment},
        )

    # --- saving through the services ----------------------------------------------------------

    def save_model(self, request, obj, form, change):
        """Nothing yet: the experiment, its arms and guardrails are written together by one
        service call in save_related, once the inlines are validated too."""

    def save_related(self, request, form, formsets, change):
        by_model = {formset.model: formset for formset in formsets}
        arms, guardrails = _arm_specs(by_model[Arm]), _guardrail_specs(by_model[Guardrail])
        settings = {name: form.cleaned_data[name] for name in ExperimentForm.Meta.fields}
        if change:
            services.experiment_draft_update(
                experiment=form.instance, actor=request.user, arms=arms, guardrails=guardrails,
                **settings,
            )  # fmt: skip
            return
        experiment = services.experiment_create(
            **settings, arms=arms, guardrails=guardrails, actor=request.user
        )
        form.instance.pk = experiment.pk  # the admin's message, log entry and redirect use it

    def construct_change_message(self, request, form, formsets, add=False):
        # The formsets were not saved by Django (the service was), so they list no objects.
        return [{"added": {}}] if add else [{"changed": {"fields": form.changed_data}}]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        experiment = self.get_object(request, object_id)
        if experiment is not None and request.method == "POST":
            try:
                services.experiment_draft_check(experiment=experiment)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
                return HttpResponseRedirect(request.path)
        context = {**(extra_context or {}), **self._change_context(request, experiment)}
        return super().change_view(request, object_id, form_url, context)

    def _change_context(self, request, experiment) -> dict:
        if experiment is None:
            return {}
        draft = experiment.status == Experiment.Status.DRAFT
        context = {
            "experiment": experiment,
            "may_act": self.has_change_permission(request, experiment),
            "draft": draft,
            "ramp_choices": pages.ramp_choices(experiment),
            "arms": [
                {
                    "arm": arm,
                    "meaning": pages.arm_meaning(arm.payload),
                    "evidence_url": pages.evidence_url(arm),
                }
                for arm in experiment.arms.all()
            ],  # fmt: skip
            "srm": None if draft else sample_ratio(experiment=experiment),
        }
        if draft:
            context["checklist"] = pages.start_checklist(experiment)
        else:  # the settings are fixed: no save buttons
            context.update(show_save=False, show_save_and_continue=False)
            context.update(show_save_and_add_another=False, show_delete=False)
        return context

    def has_delete_permission(self, request, obj=None):
        # A draft may go; a started experiment is history (sessions and the audit log use it).
        if obj is not None and obj.status != Experiment.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    # --- the pages ----------------------------------------------------------------------------

    def _experiment(self, request, object_id, *, change: bool) -> Experiment:
        experiment = self.get_object(request, object_id)
        if experiment is None:
            raise Http404("No such experiment.")
        allowed = (self.has_change_permission if change else self.has_view_permission)(
            request, experiment
        )
        if not allowed:
            raise PermissionDenied
        return experiment

    def _page(self, request, experiment, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "experiment": experiment,
            "original": experiment,
        }

    def results_view(self, request, object_id):
        experiment = self._experiment(request, object_id, change=False)
        results = experiment_results(experiment=experiment)
        context = {
            **self._page(request, experiment, f"Results of {experiment.key}"),
            **self._results_context(results),
            "may_act": self.has_change_permission(request, experiment),
            "blockers": ship_blockers(experiment=experiment),
            "api_url": reverse("experiment-results", args=[experiment.key]),
        }
        return TemplateResponse(request, "admin/experiments/experiment/results.html", context)

    def _results_context(self, results: dict) -> dict:
        return {
            "results": results,
            "arm_keys": [arm["key"] for arm in results["arms"]],
            "metric_rows": pages.metric_rows(results),
            "comparison_rows": pages.comparison_rows(results),
            "recommendations": pages.recommendation_rows(results),
            "guardrail_rows": pages.guardrail_rows(results),
            "events": pages.event_rows(results),
            "guardrail_events": [
                e for e in pages.event_rows(results) if e["action"] == "guardrail_breached"
            ],
            "charts": pages.results_charts(results),
            "plan": pages.sample_size_words(results.get("sample_size") or {}),
        }

    def ship_view(self, request, object_id):
        """Every metric of every arm first, no arm pre-selected, then ship the chosen one."""
        experiment = self._experiment(request, object_id, change=True)
        blockers = ship_blockers(experiment=experiment)
        if request.method == "POST" and not blockers:
            response = self._ship(request, experiment)
            if response is not None:
                return response
        results = experiment_results(experiment=experiment)
        context = {
            **self._page(request, experiment, f"Ship an arm of {experiment.key}"),
            **self._results_context(results),
            "blockers": blockers,
            "arms": list(experiment.arms.all()),
            "note": request.POST.get("note", ""),
        }
        return TemplateResponse(request, "admin/experiments/experiment/ship.html", context)

    def _ship(self, request, experiment):
        arm = experiment.arms.filter(pk=_int(request.POST.get("arm"))).first()
        if arm is None:
            self.message_user(request, "Choose the arm to ship.", messages.ERROR)
            return None
        try:
            experiment_ship(
                experiment=experiment, arm=arm, actor=request.user,
                note=request.POST.get("note", "").strip(),
            )  # fmt: skip
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return None
        self.message_user(
            request,
            f"Shipped arm {arm.key}: production is now {pages.arm_meaning(arm.payload)}; the "
            "experiment has ended.",
        )
        return HttpResponseRedirect(
            reverse("admin:experiments_experiment_results", args=[experiment.pk])
        )

    # --- the actions (POST only, change permission) -------------------------------------------

    def action_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        handler = ACTIONS.get(action)
        if handler is None:
            raise Http404("No such action.")
        experiment = self._experiment(request, object_id, change=True)
        try:
            level, text = handler(request, experiment)
        except ValidationError as exc:
            level, text = messages.ERROR, " ".join(exc.messages)
        self.message_user(request, text, level)
        back = request.POST.get("next") or reverse(
            "admin:experiments_experiment_change", args=[experiment.pk]
        )
        if not back.startswith("/admin/"):
            back = reverse("admin:experiments_experiment_change", args=[experiment.pk])
        return HttpResponseRedirect(back)


def _int(value) -> int | None:
    return int(value) if value and str(value).isdigit() else None


def _arm(request, experiment) -> Arm:
    arm = experiment.arms.filter(pk=_int(request.POST.get("arm"))).first()
    if arm is None:
        raise ValidationError("Choose an arm of this experiment.")
    return arm


def _start(request, experiment):
    overrides = {
        arm.pk: request.POST.get(f"override_{arm.pk}", "").strip() for arm in experiment.arms.all()
    }
    experiment_start_checked(experiment=experiment, actor=request.user, overrides=overrides)
    return messages.SUCCESS, (
        f"Started {experiment.key}: {experiment.enrollment_percent}% of sellers are enrolled."
    )


def _ramp(request, experiment):
    try:
        percent = Decimal(request.POST.get("percent", ""))
    except InvalidOperation:
        raise ValidationError("Choose the share of sellers to enroll.") from None
    services.experiment_ramp(experiment=experiment, percent=percent, actor=request.user)
    return messages.SUCCESS, f"Enrollment raised to {experiment.enrollment_percent}%."


def _pause(request, experiment):
    reason = request.POST.get("reason", "").strip()
    services.experiment_pause(experiment=experiment, actor=request.user, reason=reason)
    return messages.SUCCESS, (
        f"Paused {experiment.key}: every seller gets production within "
        f"{services.LIVE_REFRESH_SECONDS:.0f} seconds."
    )


def _resume(request, experiment):
    services.experiment_resume(experiment=experiment, actor=request.user)
    return messages.SUCCESS, f"Resumed {experiment.key}: sellers get their arms again."


def _arm_pause(request, experiment):
    arm = _arm(request, experiment)
    reason = request.POST.get("reason", "").strip() or "paused by staff"
    if not services.arm_pause(arm=arm, actor=request.user, reason=reason):
        return messages.WARNING, f"Arm {arm.key} was paused already."
    return messages.SUCCESS, f"Paused arm {arm.key}: its sellers get production."


def _arm_resume(request, experiment):
    arm = _arm(request, experiment)
    if not services.arm_resume(arm=arm, actor=request.user):
        return messages.WARNING, f"Arm {arm.key} was not paused."
    return messages.SUCCESS, f"Resumed arm {arm.key}."


def _end(request, experiment):
    if request.POST.get("confirm") != "yes":
        raise ValidationError("Tick the box to confirm: ending cannot be undone.")
    note = request.POST.get("note", "").strip()
    services.experiment_end(experiment=experiment, actor=request.user, note=note)
    return messages.SUCCESS, f"Ended {experiment.key}: every seller gets production."


def _srm_acknowledge(request, experiment):
    services.srm_acknowledge(
        experiment=experiment, actor=request.user, note=request.POST.get("note", "")
    )
    return messages.SUCCESS, "Sample-ratio mismatch acknowledged; shipping is allowed."


ACTIONS = {
    "start": _start,
    "ramp": _ramp,
    "pause": _pause,
    "resume": _resume,
    "arm-pause": _arm_pause,
    "arm-resume": _arm_resume,
    "end": _end,
    "srm-acknowledge": _srm_acknowledge,
}
