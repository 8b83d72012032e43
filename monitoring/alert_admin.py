"""Alerts in the admin: rules are edited through the services (validated there); the state,
the history and the notifications are read-only (only the evaluator writes them)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from marketplace.admin_bases import ReadOnlyAdmin

from .alert_models import AlertEvent, AlertNotification, AlertRule
from .alert_services import alert_rule_save, alert_rule_validate


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = [
            "key", "name", "description", "metric", "window", "short_window", "objective",
            "threshold", "for_duration", "min_samples", "severity", "enabled",
        ]  # fmt: skip

    def _post_clean(self):
        super()._post_clean()  # the model's own field checks; fills self.instance
        try:
            alert_rule_validate(self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = [
        "name", "metric", "threshold", "window", "for_duration", "severity", "enabled",
        "status", "last_value", "last_evaluated",
    ]  # fmt: skip
    list_filter = ["severity", "enabled", "metric", "state__status"]
    list_select_related = ["state"]
    search_fields = ["key", "name"]
    readonly_fields = ["created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # The key names the rule in messages and the shipped defaults: fixed once created.
        return [*self.readonly_fields, "key"] if obj else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return False  # disable a rule instead: its history stays readable

    def save_model(self, request, obj, form, change):
        alert_rule_save(rule=obj)

    @admin.display(description="status", ordering="state__status")
    def status(self, rule):
        return rule.state.get_status_display() if hasattr(rule, "state") else "-"

    @admin.display(description="last value")
    def last_value(self, rule):
        value = getattr(getattr(rule, "state", None), "last_value", None)
        return "-" if value is None else f"{value:.4g}"

    @admin.display(description="last evaluated")
    def last_evaluated(self, rule):
        state = getattr(rule, "state", None)
        return (state.last_evaluated_at if state else None) or "-"


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "rule", "from_status", "to_status", "value", "threshold"]
    list_filter = ["to_status", "rule"]
    list_select_related = ["rule"]
    date_hierarchy = "at"
    readonly_fields = ["rule", "from_status", "to_status", "value", "threshold", "detail", "at"]


@admin.register(AlertNotification)
class AlertNotificationAdmin(ReadOnlyAdmin):
    list_display = ["event", "channel", "status", "attempts", "next_try_at", "sent_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["event__rule"]
    raw_id_fields = ["event"]
    readonly_fields = [
        "event", "channel", "status", "attempts", "next_try_at", "sent_at", "last_error"
    ]  # fmt: skip
