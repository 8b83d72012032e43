"""Generated pre-fill history for the rollup tests: runs with known timestamps (late, retried,
failed, blank and still-running ones), thumbs, sell sessions and corrections, bulk-inserted,
plus a direct computation of every figure from the same rows, with ai_prefill.outcomes' Python
definitions, to compare the buckets against."""

import math
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ai_prefill.models import PrefillRun, PromptVersion
from ai_prefill.outcomes import empty_fields, has_no_usable_draft, run_outcome
from ai_prefill.schema import DRAFT_FIELDS
from experiments.services import ArmSpec
from feedback.models import FieldCorrection, PrefillOutcome, SellSession, SuggestionRating
from feedback.tests.experiment_data import BLANK_DRAFT, DRAFT, experiment_running
from monitoring import histograms

START = datetime(2026, 3, 2, 22, 17, 31, tzinfo=UTC)  # across a UTC day boundary on purpose

# (kind, weight): what a generated run turns out to be.
KINDS = (
    ("ok", 50), ("partial", 10), ("blank", 5), ("timeout", 8), ("rate_limited", 6),
    ("refusal", 5), ("late", 5), ("queue_unavailable", 3), ("running", 3),
)  # fmt: skip


@dataclass
class History:
    runs: list[PrefillRun]
    ratings: list[SuggestionRating]
    sessions: list[SellSession]
    corrections: list[FieldCorrection]
    versions: list[PromptVersion]
    arms: list


def _versions() -> list[PromptVersion]:
    return [
        PromptVersion.objects.create(
            name=name,
            content_hash=(name * 64)[:64],
            instructions="i",
            user_text="u",
            schema_hash="s",
        )  # fmt: skip
        for name in ("va", "vb")
    ]


def _run(rng: random.Random, user, version, arm, created: datetime) -> PrefillRun:
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    attempts = rng.choice((1, 1, 1, 2, 3))
    run = PrefillRun(
        user=user, prompt_version=version, arm=arm, provider="openai",
        model=rng.choice(("gpt-a", "gpt-b")), photo="prefill/x.jpg", thumbnail="prefill/t.jpg",
        image_sha256="0" * 64, attempts=attempts, created_at=created,
        started_at=created + timedelta(milliseconds=rng.lognormvariate(math.log(400), 1.0)),
        input_tokens=rng.randint(200, 900), output_tokens=rng.randint(50, 300),
        cost_usd=Decimal(rng.randint(100, 4000)) / Decimal(1_000_000),
        provider_latency_ms=int(rng.lognormvariate(math.log(2500), 0.6)),
    )  # fmt: skip
    run.finished_at = run.started_at + timedelta(milliseconds=run.provider_latency_ms + 30)
    if kind in ("ok", "partial", "blank"):
        run.status = PrefillRun.Status.SUCCEEDED
        run.draft = {
            "ok": dict(DRAFT), "blank": dict(BLANK_DRAFT),
            "partial": DRAFT | {"brand": None, "color": "", "price_eur": None},
        }[kind]  # fmt: skip
    elif kind == "running":
        run.status, run.finished_at = PrefillRun.Status.RUNNING, None
    else:
        run.status = PrefillRun.Status.FAILED
        run.error_type = {"late": "worker_lost"}.get(kind, kind)
        run.input_tokens = run.output_tokens = run.cost_usd = None
    if kind == "late":  # failed as stale long after it was created
        run.finished_at = created + timedelta(minutes=rng.randint(20, 90))
    if kind == "queue_unavailable":  # never reached a worker
        run.started_at = run.provider_latency_ms = None
        run.attempts = 0
        run.finished_at = created + timedelta(milliseconds=40)
    return run


def history_generate(user, *, n: int = 400, span: timedelta = timedelta(hours=5), seed: int = 7):
    """n runs created over `span` from START, and what sellers did with them."""
    rng = random.Random(seed)
    versions = _versions()
    experiment = experiment_running(
        arms=[ArmSpec("control", is_control=True), ArmSpec("variant")], key="rollups"
    )
    arms = [None, *experiment.arms.order_by("pk")]
    runs = []
    for _ in range(n):
        created = START + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        runs.append(_run(rng, user, rng.choice(versions), rng.choice(arms), created))
    _insert_keeping(runs, "created_at")
    ratings, sessions, corrections = _feedback(rng, user, runs, arms)
    return History(runs, ratings, sessions, corrections, versions, arms)


def _insert_keeping(objects: list, name: str) -> None:
    """bulk_create, then put back the `name` moments that auto_now_add overwrote on insert."""
    moments = [getattr(obj, name) for obj in objects]
    type(objects[0]).objects.bulk_create(objects)
    for obj, moment in zip(objects, moments, strict=True):
        setattr(obj, name, moment)
    type(objects[0]).objects.bulk_update(objects, [name], batch_size=500)


def _feedback(rng, user, runs, arms):
    ratings, sessions, outcomes = [], [], []
    for run in runs:
        if run.status == PrefillRun.Status.SUCCEEDED and rng.random() < 0.4:
            at = run.finished_at + timedelta(seconds=rng.uniform(1, 3600))
            rating = SuggestionRating(run=run, user=user, rating=rng.choice(("up", "down", "up")))
            rating.created_at = at
            ratings.append(rating)
        if run.finished_at is None or rng.random() < 0.3:
            continue
        session = SellSession(user=user, arm=run.arm, run=run, opened_at=run.created_at)
        if rng.random() < 0.7:
            session.status = SellSession.Status.PUBLISHED
            session.published_at = run.finished_at + timedelta(seconds=rng.uniform(5, 900))
            outcomes.append(PrefillOutcome(run=run, status="published"))
        else:
            session.status = SellSession.Status.ABANDONED
            session.abandoned_at = run.finished_at + timedelta(hours=1)
        sessions.append(session)
    for _ in range(15):  # sessions in an arm without AI: no run at all
        opened = START + timedelta(minutes=rng.uniform(0, 200))
        published = opened + timedelta(minutes=3)
        session = SellSession(user=user, arm=rng.choice(arms), opened_at=opened)
        session.status, session.published_at = SellSession.Status.PUBLISHED, published
        sessions.append(session)
    _insert_keeping(ratings, "created_at")
    SellSession.objects.bulk_create(sessions)
    PrefillOutcome.objects.bulk_create(outcomes)
    corrections = _corrections(rng, outcomes, sessions)
    return ratings, sessions, corrections


def _corrections(rng, outcomes, sessions) -> list[FieldCorrection]:
    published_at = {s.run_id: s.published_at for s in sessions if s.run_id}
    corrections = []
    for outcome in outcomes:
        stages = ["publish"] if outcome.run.draft is not None else []
        stages += ["late"] if rng.random() < 0.2 else []
        for stage in stages:
            for name in DRAFT_FIELDS:
                changed = rng.random() < 0.3
                correction = FieldCorrection(
                    outcome=outcome, stage=stage, field=name, changed=changed,
                    similarity=0.0 if changed else 1.0,
                )  # fmt: skip
                correction.recorded_at = published_at[outcome.run_id]
                corrections.append(correction)
    _insert_keeping(corrections, "recorded_at")
    return corrections


# --- the direct computation ----------------------------------------------------------------------


def _floor(moment: datetime, size: str) -> datetime:
    moment = moment.astimezone(UTC)
    if size == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if size == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    return moment.replace(second=0, microsecond=0)


def _dims_of_run(run) -> dict:
    return {"prompt_version_id": run.prompt_version_id, "provider": run.provider,
            "model": run.model, "arm_id": run.arm_id or 0}  # fmt: skip


def _matches(dims: dict, filters: dict) -> bool:
    return all(dims[name] == value for name, value in filters.items() if value is not None)


def _empty_figures() -> dict:
    return {"runs": 0, "outcomes": Counter(), "no_usable_draft": 0, "empty": Counter(),
            "retries": 0, "input_tokens": 0, "output_tokens": 0, "cost": Decimal(0),
            "queue_ms": [], "provider_ms": [], "upload_ms": [], "up": 0, "down": 0,
            "published": 0, "abandoned": 0, "corrections": {}}  # fmt: skip


def expected(history: History, *, size: str, start, end, **filters) -> dict[datetime, dict]:
    """Per bucket of `size` in [start, end): every figure straight from the generated rows."""
    buckets: dict[datetime, dict] = {}

    def at(moment, dims):
        if moment is None or not (start <= moment < end) or not _matches(dims, filters):
            return None
        return buckets.setdefault(_floor(moment, size), _empty_figures())

    for run in history.runs:
        if (b := at(run.finished_at, _dims_of_run(run))) is not None:
            _add_run(b, run)
    runs_by_pk = {run.pk: run for run in history.runs}
    for rating in history.ratings:
        if (b := at(rating.created_at, _dims_of_run(rating.run))) is not None:
            b["up" if rating.rating == "up" else "down"] += 1
    for session in history.sessions:
        run = runs_by_pk.get(session.run_id)
        dims = _dims_of_run(run) if run else {"prompt_version_id": 0, "provider": "", "model": ""}
        dims["arm_id"] = session.arm_id or 0
        moment = session.published_at or session.abandoned_at
        if (b := at(moment, dims)) is not None:
            b[session.status] += 1
    for c in history.corrections:
        if c.stage == "publish" and (b := at(c.recorded_at, _dims_of_run(c.outcome.run))):
            pair = b["corrections"].setdefault(c.field, [0, 0])
            pair[0], pair[1] = pair[0] + 1, pair[1] + int(c.changed)
    return buckets


def _add_run(b: dict, run) -> None:
    b["runs"] += 1
    b["outcomes"][run_outcome(status=run.status, error_type=run.error_type)] += 1
    b["no_usable_draft"] += has_no_usable_draft(status=run.status, draft=run.draft)
    if run.status == PrefillRun.Status.SUCCEEDED:
        b["empty"].update(empty_fields(run.draft))
    b["retries"] += max(run.attempts - 1, 0)
    b["input_tokens"] += run.input_tokens or 0
    b["output_tokens"] += run.output_tokens or 0
    b["cost"] += run.cost_usd or 0
    if run.started_at:
        b["queue_ms"].append((run.started_at - run.created_at).total_seconds() * 1000)
    if run.provider_latency_ms is not None:
        b["provider_ms"].append(run.provider_latency_ms)
    b["upload_ms"].append((run.finished_at - run.created_at).total_seconds() * 1000)


def percentile_as_read(values_ms: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile of the raw values, as the histogram reports it (the middle of
    the bucket the true value falls in), in seconds."""
    if not values_ms:
        return None
    true_value = sorted(values_ms)[max(1, math.ceil(q * len(values_ms))) - 1]
    return histograms.representative_ms(histograms.bucket_index(true_value)) / 1000
