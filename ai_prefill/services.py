"""Writes of the AI pre-fill on the web side: start a run. The worker side is execution.py."""

from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from marketplace.photos import ProcessedPhoto

from .models import PrefillRun
from .prompt_registry import model_for_provider, prompt_version_production, run_params_for
from .tasks import prefill_run_process


class PrefillQuotaExceeded(Exception):
    """The seller used up today's pre-fills; `retry_after` is seconds until the quota resets."""

    def __init__(self, retry_after: int):
        super().__init__(
            f"You have used today's {settings.AI_PREFILL_DAILY_QUOTA} AI suggestions. "
            "Fill in the form yourself, or try again tomorrow."
        )
        self.retry_after = retry_after


def prefill_run_start(*, user, photo: ProcessedPhoto) -> PrefillRun:
    """Store the photo, record the configuration, and queue the work once the row is committed."""
    _check_daily_quota(user)
    version = prompt_version_production()
    run = PrefillRun(
        user=user,
        image_sha256=photo.sha256,
        prompt_version=version,
        provider=settings.AI_PROVIDER,
        model=model_for_provider(settings.AI_PROVIDER, settings.AI_MODEL),
        params=run_params_for(version),
    )
    try:
        run.photo.save("photo.jpg", ContentFile(photo.display), save=False)
        run.thumbnail.save("thumb.jpg", ContentFile(photo.thumbnail), save=False)
        run.save()
    except Exception:
        for name in (run.photo.name, run.thumbnail.name):
            if name:
                run.photo.storage.delete(name)
        raise
    transaction.on_commit(lambda: prefill_run_process.delay(str(run.pk)))
    return run


def _check_daily_quota(user) -> None:
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = PrefillRun.objects.filter(user=user, created_at__gte=midnight).count()
    if used >= settings.AI_PREFILL_DAILY_QUOTA:
        retry_after = int((midnight + timedelta(days=1) - now).total_seconds()) + 1
        raise PrefillQuotaExceeded(retry_after)
