"""Writes of the AI pre-fill on the web side: start a run. The worker side is execution.py."""

import math
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from marketplace.log_context import request_id_get
from marketplace.photos import ProcessedPhoto
from marketplace.storage import files_delete_quietly

from . import signals
from .dispatch import prefill_run_dispatch
from .errors import ErrorType
from .execution import prefill_run_is_stale, prefill_runs_fail_stale
from .image_prep import ModelImage, model_image_from_upright
from .models import PrefillRun
from .prompt_registry import run_params_for
from .providers import model_image_from_photo, model_image_options
from .rollout import PrefillConfig, prefill_config_for


class PrefillLimitExceeded(Exception):
    """A per-seller limit said no; `retry_after` is seconds until a pre-fill is allowed again.
    The message is a sentence for the seller."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def prefill_limits_check(*, user, lock: bool = False) -> None:
    """Raise PrefillLimitExceeded if the seller may not start a run now.

    Counted from the seller's runs in the database, so every web process sees the same numbers
    and a Redis outage changes nothing. With `lock`, the seller's row is locked first (inside the
    caller's transaction), so parallel uploads of one seller take turns: count, then insert,
    never two counts before one insert."""
    if lock:
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
    now = timezone.now()
    _check_burst(user, now)
    _check_daily_quota(user, timezone.localtime(now))


class PrefillOff(Exception):
    """This seller gets no AI suggestion now (a "no AI" experiment arm, or AI off in production).
    The message is a sentence for the seller."""


PREFILL_OFF_MESSAGE = (
    "AI suggestions are not offered on your account at the moment. Please fill in the form "
    "yourself."
)


def prefill_run_start(
    *, user, photo: ProcessedPhoto, config: PrefillConfig | None = None
) -> PrefillRun:
    """Store the photo and the image the model will see, record the configuration (the seller's
    experiment arm's, or production), and queue the work once the row is committed. Raises
    PrefillLimitExceeded past a per-seller limit, PrefillOff when the seller gets no AI."""
    config = config or prefill_config_for(user=user)
    if not config.enabled:
        raise PrefillOff(PREFILL_OFF_MESSAGE)
    with transaction.atomic():
        prefill_limits_check(user=user, lock=True)
        return _run_create(user, photo, config)


def _run_create(user, photo: ProcessedPhoto, config: PrefillConfig) -> PrefillRun:
    params = run_params_for(config.prompt_version)
    run = PrefillRun(
        user=user,
        image_sha256=photo.sha256,
        prompt_version=config.prompt_version,
        provider=config.provider,
        model=config.model,
        params=params,
        arm_id=config.arm_id,
        request_id=request_id_get(),
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
        signals.send(signals.prefill_run_created, run=run, photo=photo)
    except Exception:
        # The error that matters is this one, not a failed tidy-up of the files saved so far.
        files_delete_quietly(run.photo.storage, *(field_file.name for field_file, _, _ in files))
        raise
    prefill_run_dispatch(run_id=run.pk, on_published=partial(_after_dispatch, run))
    return run


def prefill_run_expire_if_stale(*, run: PrefillRun) -> bool:
    """A run nobody finished within AI_RUN_STALE_AFTER_SECONDS reads as failed at once, even
    with no worker or beat up to sweep it (the sweep is a Celery task itself). True if `run`
    changed (its status fields are reloaded)."""
    if not prefill_run_is_stale(run) or not prefill_runs_fail_stale(run_ids=[run.pk]):
        return False
    run.refresh_from_db(fields=["status", "error_type", "error_message", "finished_at"])
    return True


QUEUE_UNAVAILABLE_MESSAGE = (
    "AI suggestions are unavailable at the moment. Please fill in the form yourself."
)


def _after_dispatch(run: PrefillRun, sent: bool) -> None:
    """The broker did not take the run: fail it now, so the seller is told at once (the API
    answers 503) instead of waiting for a draft. Its outbox row is still delivered when the
    broker is back; the task then finds the run finished and calls no model."""
    if sent:
        return
    failed = PrefillRun.objects.filter(pk=run.pk, status=PrefillRun.Status.QUEUED).update(
        status=PrefillRun.Status.FAILED,
        error_type=ErrorType.QUEUE_UNAVAILABLE,
        error_message=QUEUE_UNAVAILABLE_MESSAGE,
        finished_at=timezone.now(),
    )
    if failed:
        signals.send_runs_finished_on_commit([run.pk])
    run.refresh_from_db(fields=["status", "error_type", "error_message", "finished_at"])


def _model_image(photo: ProcessedPhoto, params: dict) -> ModelImage:
    """Made here, from the pixels the intake already decoded: the worker then only sends it, and
    the run keeps exactly what the model saw."""
    options = model_image_options(params)
    if max(photo.upright.size) >= min(options["max_side"], max(photo.width, photo.height)):
        return model_image_from_upright(photo.upright, **options)
    return model_image_from_photo(photo.display, params)  # the intake decoded too few pixels


def _check_burst(user, now) -> None:
    count, window = burst_rate_parse(settings.AI_PREFILL_BURST_RATE)
    recent = PrefillRun.objects.filter(user=user, created_at__gt=now - window)
    times = list(recent.order_by("-created_at").values_list("created_at", flat=True)[:count])
    if len(times) >= count:
        # Allowed again when the oldest of the last `count` runs leaves the window (a rate of 0
        # allows nothing: a whole window).
        oldest = times[-1] if times else now
        retry_after = math.ceil((oldest + window - now).total_seconds())
        raise PrefillLimitExceeded(
            f"That was {count} AI suggestions in a short time. Wait {retry_after} seconds and try "
            "again, or fill in the form yourself.",
            max(1, retry_after),
        )


def _check_daily_quota(user, now) -> None:
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    used = PrefillRun.objects.filter(user=user, created_at__gte=midnight).count()
    if used >= settings.AI_PREFILL_DAILY_QUOTA:
        retry_after = int((midnight + timedelta(days=1) - now).total_seconds()) + 1
        raise PrefillLimitExceeded(
            f"You have used today's {settings.AI_PREFILL_DAILY_QUOTA} AI suggestions. "
            "Fill in the form yourself, or try again tomorrow.",
            retry_after,
        )


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def burst_rate_parse(rate: str) -> tuple[int, timedelta]:
    """ "10/min" -> (10, one minute); the period's first letter counts (s, m, h, d), as in DRF."""
    count, _, period = rate.partition("/")
    try:
        return int(count), timedelta(seconds=_PERIODS[period.strip()[:1]])
    except (KeyError, ValueError):
        raise ImproperlyConfigured(
            f"AI_PREFILL_BURST_RATE must look like '10/min', not {rate!r}."
        ) from None
