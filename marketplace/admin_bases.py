"""Admin classes every app's admin builds on (the kernel: imports no app)."""

from django.contrib import admin
from django.urls import path


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows staff may look at but never add, change or delete by hand (logs, reports, rows that
    only services write)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReportPageAdmin(ReadOnlyAdmin):
    """A report page as an entry of the admin index: a proxy model whose only address is its
    changelist, which the subclass's `changelist_view` renders as the report. Who may see it is
    the subclass's `has_view_permission`."""

    def get_urls(self):
        view = self.admin_site.admin_view(self.changelist_view)
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", view, name=name)]
