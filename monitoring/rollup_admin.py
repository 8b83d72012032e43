"""The monitoring dashboard in admin: a page reading the pre-aggregated buckets, for staff with
the `monitoring.view_dashboard` permission. Thin: the figures come from rollup_dashboard."""

from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils import timezone

from marketplace.admin_bases import ReportPageAdmin

from .rollup_charts import TABLE_COLUMNS, bucket_rows_html, chart_data
from .rollup_dashboard import WINDOWS, Filters, dashboard, filter_choices, window_bounds
from .rollup_models import Dashboard

MAX_CUSTOM_DAYS = 400
VIEW_PERMISSION = "monitoring.view_dashboard"
LOCAL_DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class DashboardForm(forms.Form):
    """The window (named, or custom start/end) and the dimension filters; all optional."""

    window = forms.ChoiceField(
        choices=[(key, label) for key, (label, *_) in WINDOWS.items()] + [("custom", "Custom")],
        required=False,
    )
    start = forms.DateTimeField(label="Start (UTC)", required=False, widget=LOCAL_DATETIME)
    end = forms.DateTimeField(label="End (UTC)", required=False, widget=LOCAL_DATETIME)
    prompt_version = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    provider = forms.ChoiceField(required=False)
    model = forms.ChoiceField(required=False)
    arm = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, data, *, choices: dict):
        super().__init__(data)
        for name, options in choices.items():
            self.fields[name].choices = [("", "all"), *options]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        data["window"] = data.get("window") or "24h"
        if data["window"] == "custom":
            start, end = (_as_utc(data.get(name)) for name in ("start", "end"))
            data.update(start=start, end=end)
            if not start or not end or end <= start:
                raise forms.ValidationError("A custom window needs a start before its end.")
            if end - start > timedelta(days=MAX_CUSTOM_DAYS):
                raise forms.ValidationError(f"A window may span at most {MAX_CUSTOM_DAYS} days.")
        return data

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            prompt_version_id=data.get("prompt_version"),
            provider=data.get("provider") or None,
            model=data.get("model") or None,
            arm_id=data.get("arm"),
        )


def _as_utc(moment: datetime | None) -> datetime | None:
    """The form read the wall time in the site's time zone; the page speaks UTC (as its buckets)."""
    if moment is None:
        return None
    return timezone.make_naive(moment).replace(tzinfo=UTC)


@admin.register(Dashboard)
class DashboardAdmin(ReportPageAdmin):
    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(VIEW_PERMISSION)

    def has_module_permission(self, request):
        return request.user.has_perm(VIEW_PERMISSION)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = DashboardForm(request.GET or {"window": "24h"}, choices=filter_choices())
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Monitoring dashboard",
            "form": form,
        }
        if form.is_valid():
            context.update(_page(form))
        return TemplateResponse(request, "admin/monitoring/dashboard.html", context)


def _page(form: DashboardForm) -> dict:
    data = form.cleaned_data
    start, end, size = window_bounds(
        window=data["window"], now=timezone.now(), start=data.get("start"), end=data.get("end")
    )
    figures = dashboard(start=start, end=end, size=size, filters=form.filters())
    return {
        "data": figures,
        "charts": chart_data(figures),
        "rows_html": bucket_rows_html(figures),
        "columns": TABLE_COLUMNS,
        "window_label": _label(data, size),
    }


def _label(data: dict, size: str) -> str:
    named = WINDOWS.get(data["window"])
    return f"{named[0] if named else 'Custom window'}, one point per {size} (UTC)"
