from django.db.models import Q, QuerySet

from .models import EvalCase, PrefillRun, PromptLabel, PromptLabelEvent, PromptVersion

# What GET /api/prefill/<id>/ shows. A seller's page asks for it every few hundred ms while the
# run works: leave out the raw response and params (kilobytes of JSON decoded for nothing).
STATUS_FIELDS = (
    "id",
    "user_id",
    "status",
    "created_at",  # for poll_after_ms
    "draft",
    "error_type",
    "error_message",
    "model",
    "prompt_version__name",  # the version's label is name@hash
    "prompt_version__content_hash",
)


def prefill_run_get_for_user(*, run_id, user) -> PrefillRun | None:
    """A run as its owner, or staff allowed to view runs, may see it; None for anyone else."""
    return _visible_to(user).select_related("prompt_version").filter(pk=run_id).first()


def prefill_run_status_for_user(*, run_id, user) -> PrefillRun | None:
    """The same run, with only the fields of its status (see STATUS_FIELDS)."""
    runs = _visible_to(user).select_related("prompt_version").only(*STATUS_FIELDS)
    return runs.filter(pk=run_id).order_by().first()  # by primary key: no sort needed


def _visible_to(user) -> QuerySet[PrefillRun]:
    runs = PrefillRun.objects.all()
    if not (user.is_staff and user.has_perm("ai_prefill.view_prefillrun")):
        runs = runs.filter(user=user)
    return runs


def prefill_runs_for_user(*, user) -> QuerySet[PrefillRun]:
    return PrefillRun.objects.filter(user=user)


def prefill_run_get_owned(*, run_id, user) -> PrefillRun | None:
    """Only the seller's own run: what a listing may be created from (staff included)."""
    return PrefillRun.objects.filter(pk=run_id, user=user).first()


# --- admin pages ------------------------------------------------------------------------------


def prompt_label_events_for(*, version: PromptVersion, limit: int = 20) -> list[PromptLabelEvent]:
    """The newest moves of any label to or from this version."""
    events = PromptLabelEvent.objects.filter(Q(from_version=version) | Q(to_version=version))
    return list(events.select_related("from_version", "to_version", "moved_by")[:limit])


def prompt_label_get(*, name: str) -> PromptLabel | None:
    return PromptLabel.objects.select_related("version").filter(name=name).first()


def prompt_versions_for_picker() -> QuerySet[PromptVersion]:
    return PromptVersion.objects.only("id", "name", "content_hash", "created_at")


def prompt_versions_get(*, ids: list[int | None]) -> dict[int, PromptVersion]:
    """Versions by id; unknown ids and None are left out."""
    return PromptVersion.objects.in_bulk([i for i in ids if i is not None])


def eval_case_image_get(*, pk) -> EvalCase | None:
    """The case with only what its image view needs."""
    return EvalCase.objects.filter(pk=pk).only("pk", "image").first()
