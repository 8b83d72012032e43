"""Writes of the AI pre-fill on the web side: start a run. The worker side is execution.py."""

from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from marketplace.photos import ProcessedPhoto

from .image_prep import ModelImage, model_image_from_upright
from .models import PrefillRun
from .prompt_registry import model_for_provider, prompt_version_for_new_run, run_params_for
from .providers import model_image_from_photo, model_image_options
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
    """Store the photo and the image the model will see, record the configuration, and queue the
    work once the row is committed."""
    _check_daily_quota(user)
    version = prompt_version_for_new_run()
    params = run_params_for(version)
    run = PrefillRun(
        user=user,
        image_sha256=photo.sha256,
        prompt_version=version,
        provider=settings.AI_PROVIDER,
        model=model_for_provider(settings.AI_PROVIDER, settings.AI_MODEL),
        params=params,
    )
    # (FieldFiles compare by name, so they cannot be the keys of a dict here.)
    files = [
        (run.photo, "photo.jpg", photo.display),
        (run.thumbnail, "thumb.jpg", photo.thumbnail),
        (run.model_image, "model.jpg", _model_image(photo, params).jpeg),
    ]
    try:
        for field_file, name, content in files:
            field_file.save(name, ContentFile(content), save=False)
        run.save()
    except Exception:
        for field_file, _, _ in files:
            if field_file.name:
                field_file.storage.delete(field_file.name)
        raise
    transaction.on_commit(lambda: prefill_run_process.delay(str(run.pk)))
    return run


def _model_image(photo: ProcessedPhoto, params: dict) -> ModelImage:
    """Made here, from the pixels the intake already decoded: the worker then only sends it, and
    the run keeps exactly what the model saw."""
    options = model_image_options(params)
    if max(photo.upright.size) >= min(options["max_side"], max(photo.width, photo.height)):
        return model_image_from_upright(photo.upright, **options)
    return model_image_from_photo(photo.display, params)  # the intake decoded too few pixels


def _check_daily_quota(user) -> None:
    now = timezone.localtime()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = PrefillRun.objects.filter(user=user, created_at__gte=midnight).count()
    if used >= settings.AI_PREFILL_DAILY_QUOTA:
        retry_after = int((midnight + timedelta(days=1) - now).total_seconds()) + 1
        raise PrefillQuotaExceeded(retry_after)
