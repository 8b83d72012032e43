from django.db.models import QuerySet

from .models import PrefillRun


def prefill_run_get_for_user(*, run_id, user) -> PrefillRun | None:
    """A run as its owner, or staff allowed to view runs, may see it; None for anyone else."""
    runs = PrefillRun.objects.select_related("prompt_version")
    if not (user.is_staff and user.has_perm("ai_prefill.view_prefillrun")):
        runs = runs.filter(user=user)
    return runs.filter(pk=run_id).first()


def prefill_runs_for_user(*, user) -> QuerySet[PrefillRun]:
    return PrefillRun.objects.filter(user=user)


def prefill_run_get_owned(*, run_id, user) -> PrefillRun | None:
    """Only the seller's own run: what a listing may be created from (staff included)."""
    return PrefillRun.objects.filter(pk=run_id, user=user).first()
