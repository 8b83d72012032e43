"""Run a prompt version + model over the eval set: call (or reuse cached answers), score, store,
aggregate, compare with a baseline run, and decide the gate."""

import hashlib
import importlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from ..errors import ErrorType, ProviderError
from ..execution import estimate_cost_usd
from ..models import EvalCacheEntry, EvalCase, EvalResult, EvalRun, PromptVersion
from ..prompt_registry import model_for_provider, prompt_version_production, run_params_for
from ..providers import (
    ProviderRequest,
    Usage,
    model_image_from_photo,
    provider_get,
    provider_request_build,
)
from ..schema import draft_schema_hash
from ..timing import Stopwatch
from .cache import cache_key, cache_lookup, cache_store
from .dataset import dataset_version, eval_cases_select
from .gate import gate_decide, gate_policy_for
from .scoring import score_case

logger = logging.getLogger(__name__)

CACHE_MODES = ("use", "refresh", "off")
CACHE_WRITE_BATCH = 50  # answers per cache upsert: one statement each, written during the run
ANALYSIS_MODULE = "ai_prefill.evals.analysis"  # statistics: imported while the calls run
# Pillow releases the GIL while it decodes, resizes and encodes: one preparing thread per core.
PREPARE_WORKERS = min(4, os.cpu_count() or 1)


class EvalRunBroken(Exception):
    """The run itself could not be done (configuration, no cases...): exit code 2."""


@dataclass(frozen=True)
class EvalConfig:
    prompt_version: PromptVersion
    provider: str
    model: str
    params: dict
    tags: tuple[str, ...] = ()
    limit: int | None = None
    repeats: int = 1
    concurrency: int = 8
    cache_mode: str = "use"
    price_tolerance: float = 0.30

    @property
    def config_key(self) -> str:
        """Same key, same configuration: how "the last run of production" is found."""
        payload = [self.provider, self.model, self.params, self.prompt_version.content_hash]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class _Job:
    case: EvalCase
    repeat: int
    key: str


@dataclass
class _Answer:
    job: _Job
    draft: dict | None = None
    raw: dict | None = None
    usage: Usage = field(default_factory=Usage)
    latency_ms: int | None = None
    error_type: str = ""
    error_message: str = ""
    cached: bool = False


def eval_run_execute(
    *,
    config: EvalConfig,
    baseline: str = "auto",
    user=None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalRun:
    """`baseline`: "auto" (last completed run of production's configuration on the same
    dataset), "none", or an EvalRun id."""
    cases = _cases_checked(config)
    provider = _provider(config.provider)
    _import_statistics_in_background()
    run = EvalRun.objects.create(created_by=user, **_run_fields(config, cases))
    with _broken_on_error(run):
        _score_and_conclude(run, config, provider, cases, baseline, progress)
    return run


def eval_run_queued_execute(*, run_id: int) -> EvalRun | None:
    """Run an eval run that staff queued (ai_prefill/evals/queueing.py), on an evals worker:
    claim it (queued -> running; None if another delivery has it or it is gone), then as
    run_evals would, from the configuration stored on the row."""
    claimed = EvalRun.objects.filter(pk=run_id, status=EvalRun.Status.QUEUED)
    if not claimed.update(status=EvalRun.Status.RUNNING):
        return None
    run = EvalRun.objects.select_related("prompt_version").get(pk=run_id)
    with _broken_on_error(run):
        config = eval_config_for(
            prompt_version=run.prompt_version,
            provider=run.provider,
            model=run.model,
            tags=tuple(run.tags),
            limit=run.limit,
            repeats=run.repeats,
        )
        cases = _cases_checked(config)
        provider = _provider(config.provider)
        _import_statistics_in_background()
        for name, value in _run_fields(config, cases).items():  # as they are now, at the start
            setattr(run, name, value)
        run.save()
        _score_and_conclude(run, config, provider, cases, "auto", progress=None)
    return run


def _cases_checked(config: EvalConfig) -> list[EvalCase]:
    if config.cache_mode not in CACHE_MODES:
        raise EvalRunBroken(f"--cache must be one of {', '.join(CACHE_MODES)}")
    cases = eval_cases_select(tags=list(config.tags), limit=config.limit)
    if not cases:
        raise EvalRunBroken(
            "No active eval case matches; load the starter set: manage.py load_eval_set"
        )
    return cases


def _run_fields(config: EvalConfig, cases: list[EvalCase]) -> dict:
    return {
        "prompt_version": config.prompt_version,
        "provider": config.provider,
        "model": config.model,
        "params": config.params,
        "config_key": config.config_key,
        "dataset_version": dataset_version(cases),
        "tags": list(config.tags),
        "limit": config.limit,
        "repeats": config.repeats,
        "case_count": len(cases),
    }


def _score_and_conclude(run, config, provider, cases, baseline, progress) -> None:
    rows = _scored_rows(run, config, provider, cases, progress)
    results = _store(rows)
    _conclude(run, config, results, baseline)


@contextmanager
def _broken_on_error(run: EvalRun) -> Iterator[None]:
    """Whatever stops the run marks it broken, with the reason, and is raised again."""
    try:
        yield
    except Exception as exc:
        EvalRun.objects.filter(pk=run.pk).update(
            status=EvalRun.Status.BROKEN,
            error_message=f"{type(exc).__name__}: {exc}",
            finished_at=timezone.now(),
        )
        raise


def _import_statistics_in_background() -> None:
    """scipy and statsmodels take about a second to import and are needed only once the answers
    are in: import them while the provider calls wait on the network. (The import lock makes
    the later import wait for this one if it is still running.)"""
    threading.Thread(
        target=importlib.import_module, args=(ANALYSIS_MODULE,), name="eval-imports", daemon=True
    ).start()


def _provider(name: str):
    try:
        return provider_get(name)
    except ValueError as exc:
        raise EvalRunBroken(str(exc)) from None


# --- answers ----------------------------------------------------------------------------------


def _scored_rows(run, config, provider, cases, progress) -> list[EvalResult]:
    """Every job's answer, called or cached, scored into an unsaved result row."""
    schema_hash = draft_schema_hash()
    jobs = [job for case in cases for job in _jobs(run, config, case, schema_hash)]
    hits = cache_lookup([job.key for job in jobs]) if config.cache_mode == "use" else {}
    to_call = [job for job in jobs if job.key not in hits]
    if progress:
        progress(len(jobs) - len(to_call), len(jobs))
    # Scoring and caching happen while the other calls are in flight, not after the last one.
    rows, to_cache = [], []
    for answered, answer in enumerate(_call_all(provider, run, to_call, config.concurrency), 1):
        rows.append(_result_row(run, config, answer))
        if config.cache_mode != "off" and answer.draft is not None:  # errors are never cached
            to_cache.append(_cache_entry(run, answer))
        if len(to_cache) >= CACHE_WRITE_BATCH:
            cache_store(to_cache)
            to_cache = []
        if progress:
            progress(len(jobs) - len(to_call) + answered, len(jobs))
    cache_store(to_cache)
    cached = (_from_cache(job, hits[job.key]) for job in jobs if job.key in hits)
    rows += [_result_row(run, config, answer) for answer in cached]
    return rows


def _call_all(provider, run, jobs: list[_Job], concurrency: int) -> Iterator[_Answer]:
    """Answers as they come, `concurrency` provider calls in flight.

    Images are prepared by a separate small pool a window ahead of the calls. Preparing inside
    the call threads made the CPU work come in bursts (all threads prepare at once, then all
    wait on the network at once), so every wave of calls paid for its own preparation: ~1.3x
    the ideal time on 2 cores. The window bounds the prepared images held in memory. The
    repeats of a case come one after another (`_jobs`) and share one prepared request.
    """
    concurrency = max(1, concurrency)
    window = concurrency * 2
    queue = iter(jobs)
    with (
        ThreadPoolExecutor(max_workers=PREPARE_WORKERS) as prepare_pool,
        ThreadPoolExecutor(max_workers=concurrency) as call_pool,
    ):
        in_flight = set()
        latest = (None, None)  # (case, its prepared request)

        def refill():
            nonlocal latest
            while len(in_flight) < window and (job := next(queue, None)) is not None:
                if latest[0] != job.case:
                    latest = (job.case, prepare_pool.submit(_request_build, run, job.case))
                in_flight.add(call_pool.submit(_call, provider, job, latest[1]))

        refill()
        while in_flight:
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            in_flight -= finished
            refill()
            yield from (future.result() for future in finished)


def _from_cache(job: _Job, entry) -> _Answer:
    usage = Usage(entry.input_tokens, entry.output_tokens)
    return _Answer(job=job, draft=entry.draft, raw=entry.raw_response, usage=usage,
                   latency_ms=entry.latency_ms, cached=True)  # fmt: skip


def _cache_entry(run, answer: _Answer) -> EvalCacheEntry:
    return EvalCacheEntry(
        key=answer.job.key, provider=run.provider, model=run.model, draft=answer.draft,
        raw_response=answer.raw, input_tokens=answer.usage.input_tokens,
        output_tokens=answer.usage.output_tokens, latency_ms=answer.latency_ms,
    )  # fmt: skip


def _jobs(run, config, case: EvalCase, schema_hash: str) -> list[_Job]:
    """One job per repeat of the case. The photo is read later, by the thread that prepares it:
    a cached answer needs none, and 200 file reads in a row delayed the first call."""
    return [
        _Job(case=case, repeat=repeat, key=cache_key(
            provider=run.provider, model=run.model, params=run.params,
            prompt_hash=config.prompt_version.content_hash, image_sha256=case.image_sha256,
            schema_hash=schema_hash, repeat=repeat,
        ))
        for repeat in range(config.repeats)
    ]  # fmt: skip


def _request_build(run: EvalRun, case: EvalCase) -> ProviderRequest:
    image = case.image  # open through the storage: a file handle per preparing thread
    with image.storage.open(image.name, "rb") as stored:
        photo = stored.read()
    return provider_request_build(
        image=model_image_from_photo(photo, run.params),
        prompt_version=run.prompt_version,
        model=run.model,
        params=run.params,
    )


def _call(provider, job: _Job, request: Future) -> _Answer:
    """Runs in a pool thread: no database access here, only the provider call, timed alone."""
    clock = Stopwatch()
    try:
        prepared = request.result()
        with clock:
            result = provider.generate(prepared)
    except ProviderError as error:
        return _Answer(
            job=job,
            error_type=error.error_type,
            error_message=error.message,
            raw=error.raw,
            latency_ms=clock.ms,
        )
    except Exception as exc:  # a crash on one case is that case's failure, not the run's
        logger.exception("eval call crashed on %s", job.case.key)
        return _Answer(
            job=job, error_type=ErrorType.INTERNAL, error_message=str(exc), latency_ms=clock.ms
        )
    return _Answer(
        job=job,
        draft=result.draft.model_dump(mode="json"),
        raw=result.raw,
        usage=result.usage,
        latency_ms=clock.ms,
    )


# --- storing and concluding -------------------------------------------------------------------


def _result_row(run, config, answer: _Answer) -> EvalResult:
    case = answer.job.case
    expected = case.expected()
    score = score_case(
        expected=expected,
        output=answer.draft,
        key_attributes=case.key_attributes,
        price_tolerance=config.price_tolerance,
    )
    return EvalResult(
        run=run,
        case=case,
        case_hash=case.content_hash(),
        repeat=answer.job.repeat,
        expected=expected,
        output=answer.draft,
        error_type=answer.error_type,
        error_message=answer.error_message,
        latency_ms=answer.latency_ms,
        input_tokens=answer.usage.input_tokens,
        output_tokens=answer.usage.output_tokens,
        cost_usd=None
        if answer.cached
        else estimate_cost_usd(run.model, answer.usage.input_tokens, answer.usage.output_tokens),
        cached=answer.cached,
        scores=_scores_json(score),
        all_correct=score.all_correct,
    )


def _store(rows: list[EvalResult]) -> list[EvalResult]:
    """Save the rows; they come back with their ids and cases, so nothing is read again."""
    rows.sort(key=lambda row: (row.case.key, row.repeat))
    return EvalResult.objects.bulk_create(rows)


def _scores_json(score) -> dict:
    """Per-field scores by field name, and the case-level flags under "_case"."""
    data = score.to_dict()
    flags = {name: data[name] for name in ("condition_within_one", "invented_brand", "failed")}
    return {**data["fields"], "_case": flags}


@transaction.atomic
def _conclude(run: EvalRun, config: EvalConfig, results: list[EvalResult], baseline: str) -> None:
    from .analysis import comparison_build, metrics_build  # see _import_statistics_in_background

    policy = gate_policy_for(config.provider)
    run.metrics = metrics_build(results)
    run.baseline = _baseline_run(run, baseline)
    if run.baseline is not None:
        run.comparison = comparison_build(
            results=results,
            baseline_results=list(run.baseline.results.select_related("case")),
            baseline_run_id=run.baseline.pk,
            alpha=policy.alpha,
            min_effect=policy.min_effect,
        )
    verdict = gate_decide(
        policy=policy, results=results, metrics=run.metrics, comparison=run.comparison
    )
    run.gate_passed, run.gate_reasons = verdict.passed, verdict.reasons
    run.cost_usd = run.metrics["cost_usd"]["total"]
    run.cached_count = run.metrics["cached"]
    run.status = EvalRun.Status.COMPLETED
    run.finished_at = timezone.now()
    run.save()


def _baseline_run(run: EvalRun, baseline: str) -> EvalRun | None:
    if baseline == "none":
        return None
    completed = EvalRun.objects.filter(status=EvalRun.Status.COMPLETED).exclude(pk=run.pk)
    if baseline != "auto":
        found = completed.filter(pk=baseline).first() if str(baseline).isdigit() else None
        if found is None:
            raise EvalRunBroken(f"--baseline {baseline}: no completed eval run with that id")
        return found
    production_key = _production_config_key(run)
    return (
        completed.filter(config_key=production_key, dataset_version=run.dataset_version)
        .order_by("-created_at", "-id")
        .first()
    )


def _production_config_key(run: EvalRun) -> str:
    """The configuration the product runs today (a shipped arm's, else the settings')."""
    from ..rollout import production_config

    production = production_config()
    if not production.enabled:  # production is "no AI": its last AI configuration is unknown
        return ""
    return eval_config_for(
        prompt_version=prompt_version_production(),
        provider=production.provider,
        model=production.model,
    ).config_key


def eval_config_for(
    *, prompt_version: PromptVersion, provider: str, model: str, **options
) -> EvalConfig:
    """An eval configuration with the params a pre-fill run of it would record."""
    params = {**run_params_for(prompt_version), **_provider(provider).describe()}
    model = model_for_provider(provider, model)
    return EvalConfig(
        prompt_version=prompt_version, provider=provider, model=model, params=params, **options
    )
