"""Experiments with generated sell sessions, runs, ratings and corrections, for the results and
guardrail tests. Everything is bulk-inserted from numbers a test also keeps, so the test can
compute the expected figures itself from the same arrays."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import numpy as np
from django.utils import timezone

from ai_prefill.models import PrefillRun, PromptVersion
from ai_prefill.schema import DRAFT_FIELDS
from experiments.models import Assignment
from experiments.services import ArmSpec, GuardrailSpec, experiment_create, experiment_start
from feedback.models import FieldCorrection, PrefillOutcome, SellSession, SuggestionRating

DRAFT = {
    "title": "Red city bike",
    "description": "A red city bike with a basket.",
    "category": "bikes",
    "condition": "good",
    "brand": "Gazelle",
    "color": "red",
    "price_eur": 100.0,
}
BLANK_DRAFT = dict.fromkeys(DRAFT_FIELDS, "") | {"brand": None, "color": None, "price_eur": None}


def experiment_running(*, actor=None, arms=None, guardrails=(), **kwargs):
    arms = arms or [ArmSpec("control", is_control=True), ArmSpec("variant")]
    experiment = experiment_create(
        key=kwargs.pop("key", "prompt-v3"), hypothesis="Faster drafts", arms=arms,
        guardrails=list(guardrails), actor=actor, enrollment_percent=100, **kwargs,
    )  # fmt: skip
    experiment_start(experiment=experiment, actor=actor)
    experiment.refresh_from_db()
    return experiment


def prompt_version() -> PromptVersion:
    return PromptVersion.objects.get_or_create(
        content_hash="e" * 64,
        defaults={"name": "t", "instructions": "i", "user_text": "u", "schema_hash": "s"},
    )[0]


@dataclass
class ArmData:
    """What was generated for one arm: the arrays a test recomputes figures from."""

    published_seconds: list[float] = field(default_factory=list)
    abandoned: int = 0
    open_ages: list[float] = field(default_factory=list)
    sellers: int = 0
    run_status: list[str] = field(default_factory=list)  # "ok" | "blank" | "failed" | "running"
    draft_seconds: list[float] = field(default_factory=list)  # of "ok"/"blank" runs
    cost: float = 0.0
    up: int = 0
    down: int = 0
    kept: dict = field(default_factory=dict)  # field -> [kept, n]


def arm_fill(arm, users, rng, *, n, now, publish=0.7, abandon=0.2, runs=0.6, median=200.0,
             fail=0.1, blank=0.05, rate=0.3) -> ArmData:  # fmt: skip
    """n sessions for `arm` spread over `users` and the last 3 days; a share with a run."""
    data = ArmData()
    for user in users:
        Assignment.objects.create(experiment_id=arm.experiment_id, arm=arm, user=user)
    data.sellers = len(users)
    version = prompt_version()
    sessions, run_rows = [], []
    for i in range(n):
        user = users[i % len(users)]
        draw = rng.random()
        opened = now - timedelta(seconds=float(rng.uniform(600, 3 * 86400)))
        session = SellSession(user=user, experiment_id=arm.experiment_id, arm=arm, opened_at=opened)
        if draw < publish:
            seconds = float(np.round(rng.lognormal(np.log(median), 0.8), 3))
            session.status, session.seconds_to_publish = SellSession.Status.PUBLISHED, seconds
            session.published_at = opened + timedelta(seconds=seconds)
            data.published_seconds.append(seconds)
        elif draw < publish + abandon:
            session.status, session.abandoned_at = SellSession.Status.ABANDONED, now
            data.abandoned += 1
        else:
            opened = now - timedelta(seconds=float(rng.uniform(5, 3000)))
            session.opened_at = opened
            data.open_ages.append((now - opened).total_seconds())
        if rng.random() < runs:
            run_rows.append((session, _run(user, arm, version, rng, data, fail, blank)))
        sessions.append(session)
    _runs_insert(run_rows, data)
    SellSession.objects.bulk_create(sessions)
    _feedback_insert(run_rows, rng, data, rate)
    return data


def _run(user, arm, version, rng, data, fail, blank) -> PrefillRun:
    draw = rng.random()
    kind = "failed" if draw < fail else "blank" if draw < fail + blank else "ok"
    if rng.random() < 0.03:
        kind = "running"
    cost = Decimal(str(round(float(rng.uniform(0.0005, 0.004)), 6)))
    data.cost += float(cost)
    data.run_status.append(kind)
    status = {"failed": "failed", "running": "running"}.get(kind, "succeeded")
    return PrefillRun(
        user=user, arm=arm, prompt_version=version, provider="openai", model="m",
        photo="prefill/x.jpg", thumbnail="prefill/x-t.jpg", image_sha256="0" * 64,
        status=status, cost_usd=cost,
        draft={"ok": dict(DRAFT), "blank": dict(BLANK_DRAFT)}.get(kind),
    )  # fmt: skip


def _runs_insert(run_rows, data: ArmData) -> None:
    runs = PrefillRun.objects.bulk_create([run for _, run in run_rows])
    finished = []
    rng = np.random.default_rng(len(runs))
    for (session, _), run in zip(run_rows, runs, strict=True):
        session.run = run
        if run.status == "succeeded":
            took = float(np.round(rng.uniform(2, 30), 3))
            run.finished_at = run.created_at + timedelta(seconds=took)
            data.draft_seconds.append(took)
            finished.append(run)
        elif run.status == "failed":
            run.finished_at = run.created_at + timedelta(seconds=40)
            finished.append(run)
    PrefillRun.objects.bulk_update(finished, ["finished_at"])


def _feedback_insert(run_rows, rng, data: ArmData, rate: float) -> None:
    ratings, outcomes = [], []
    for session, run in run_rows:
        if run.status == "succeeded" and rng.random() < rate:
            up = bool(rng.random() < 0.7)
            ratings.append(SuggestionRating(run=run, user=run.user, rating="up" if up else "down"))
            data.up, data.down = data.up + up, data.down + (not up)
        if session.status == SellSession.Status.PUBLISHED:
            outcomes.append(PrefillOutcome(run=run, status="published", fields_changed=0))
    SuggestionRating.objects.bulk_create(ratings)
    PrefillOutcome.objects.bulk_create(outcomes)
    corrections = []
    for outcome in outcomes:
        if outcome.run.draft is None:
            continue  # a failed run suggested nothing: no corrections (as the service does)
        for name in DRAFT_FIELDS:
            changed = bool(rng.random() < 0.25)
            kept = data.kept.setdefault(name, [0, 0])
            kept[0], kept[1] = kept[0] + (not changed), kept[1] + 1
            corrections.append(
                FieldCorrection(
                    outcome=outcome,
                    stage="publish",
                    field=name,
                    changed=changed,
                    similarity=0.0 if changed else 1.0,
                )
            )
    FieldCorrection.objects.bulk_create(corrections)


def guardrails_default(min_sample=30):
    return [
        GuardrailSpec("failed_or_empty", 0.2, min_sample),
        GuardrailSpec("p95_seconds_to_draft", 25.0, min_sample),
        GuardrailSpec("cost_per_published_usd", 0.01, min_sample),
    ]


def now_fixed():
    return timezone.now().replace(microsecond=0)
