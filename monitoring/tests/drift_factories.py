"""Generated pre-fill runs and intake statistics for the drift tests, bulk-inserted at the times
a test asks for (the model's auto_now_add would stamp them now)."""

import datetime as dt
import uuid

from ai_prefill.models import PrefillRun
from ai_prefill.prompt_registry import prompt_version_production
from monitoring.drift import day_bounds
from monitoring.drift_models import IntakeStats

BASE_DRAFT = {
    "title": "Item",
    "description": "An item.",
    "brand": None,
    "color": "red",
    "price_eur": 10.0,
}
# What a typical photo measures: a 12 MP 4:3 phone photo, mid-bright, ordinarily sharp.
TYPICAL_STATS = {"megapixels": 12.0, "aspect": 1.33, "brightness": 140.0, "sharpness": 300.0}


def noon(day: dt.date) -> dt.datetime:
    start, _ = day_bounds(day)
    return start + dt.timedelta(hours=12)


def runs_generate(
    *,
    user,
    day: dt.date,
    categories: dict[str | None, int],
    condition: str = "good",
    status: str = PrefillRun.Status.SUCCEEDED,
    stats: dict | None = None,
) -> list[PrefillRun]:
    """`categories[c]` runs created at noon of `day` with category c suggested (None: blank),
    each with intake statistics (`stats` over TYPICAL_STATS)."""
    version = prompt_version_production()
    runs = [
        PrefillRun(
            id=uuid.uuid4(),
            user=user,
            prompt_version=version,
            provider="baseline",
            model="baseline",
            photo="prefill/x.jpg",
            thumbnail="prefill/x.jpg",
            image_sha256="0" * 64,
            status=status,
            draft=None
            if status == PrefillRun.Status.FAILED
            else {**BASE_DRAFT, "category": category, "condition": condition},
            error_type="timeout" if status == PrefillRun.Status.FAILED else "",
        )
        for category, count in categories.items()
        for _ in range(count)
    ]
    PrefillRun.objects.bulk_create(runs)
    at = noon(day)
    PrefillRun.objects.filter(pk__in=[r.pk for r in runs]).update(created_at=at)
    values = {**TYPICAL_STATS, **(stats or {})}
    IntakeStats.objects.bulk_create(IntakeStats(run=r, created_at=at, **values) for r in runs)
    return runs


def reference_generate(*, user, day: dt.date, per_day: dict[str | None, int], **kwargs) -> None:
    """The same runs on each of the 28 days before `day`."""
    for back in range(1, 29):
        runs_generate(user=user, day=day - dt.timedelta(days=back), categories=per_day, **kwargs)
