"""Who on staff gets an operational email: one definition for every notice sent to staff
(experiment guardrails, monitoring alerts)."""

from django.contrib.auth import get_user_model
from django.db.models import Q


def staff_emails_with_permission(*, app_label: str, codename: str) -> list[str]:
    """Emails of active staff holding the permission (directly or through a group), and of
    superusers; sorted, without duplicates or blanks."""
    may = (
        Q(is_superuser=True)
        | Q(user_permissions__content_type__app_label=app_label,
            user_permissions__codename=codename)
        | Q(groups__permissions__content_type__app_label=app_label,
            groups__permissions__codename=codename)
    )  # fmt: skip
    users = get_user_model().objects.filter(may, is_active=True, is_staff=True)
    return sorted(set(users.exclude(email="").values_list("email", flat=True)))
