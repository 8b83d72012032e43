"""Which AI configuration a seller gets: production, or their experiment arm's.

An arm's payload (opaque to the experiments app) means, here:

    {}                                   the production configuration, whatever it is
    {"ai": "off"}                        no AI: the plain Sell form, no run
    {"prompt_version": "<hash prefix>",  a prompt version (its content hash, >= 10 characters,
     "provider": "openai" | "baseline",  as in its label listing_draft@9951eb2c9b)
     "model": "gpt-4.1-mini"}            the model (ignored by the baseline)

Params (temperature, ...) belong to the prompt version, so "prompt + model" is the whole
configuration, exactly what `run_evals --prompt-version --provider --model` evaluates; an arm may
only start with a passed eval run of that configuration on the current dataset (or a reason).
"""

import json
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from experiments.models import Arm, Experiment
from experiments.services import ArmAssignment, assignment_for, experiment_end
from marketplace.memo import ProcessMemo

from .models import EvalRun, ProductionConfig, PromptLabel, PromptVersion
from .prompt_registry import model_for_provider, prompt_label_move, prompt_version_for_new_run

PROVIDERS = ("openai", "baseline")
MIN_HASH_PREFIX = 10


@dataclass(frozen=True)
class PrefillConfig:
    """Everything that decides a seller's pre-fill; `arm_id` None means production."""

    enabled: bool
    prompt_version: PromptVersion | None
    provider: str
    model: str
    arm_id: int | None = None
    arm_key: str = ""
    experiment_key: str = ""

    def describe(self) -> str:
        if not self.enabled:
            return "no AI (plain form)"
        return f"{self.prompt_version.label} on {self.provider}/{self.model}"

    def as_payload(self) -> dict:
        """The arm payload that means this configuration."""
        if not self.enabled:
            return {"ai": "off"}
        return {
            "prompt_version": self.prompt_version.content_hash[:MIN_HASH_PREFIX],
            "provider": self.provider,
            "model": self.model,
        }


class _ArmPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ai: str = Field(default="on", pattern="^(on|off)$")
    prompt_version: str | None = Field(default=None, min_length=MIN_HASH_PREFIX, max_length=64)
    provider: str | None = None
    model: str | None = Field(default=None, max_length=80)


# --- production --------------------------------------------------------------------------------


def _production_row() -> ProductionConfig | None:
    return ProductionConfig.objects.select_related("prompt_version").first()


# Read by every upload: at most once per this many seconds per process (a ship in this process is
# seen at once: the memo is forgotten).
PRODUCTION_CONFIG_REFRESH_SECONDS = 2.0
_production_row_memo = ProcessMemo(
    _production_row, refresh_seconds=PRODUCTION_CONFIG_REFRESH_SECONDS
)


def production_config() -> PrefillConfig:
    """The configuration sellers outside an experiment get: the newest ProductionConfig row,
    else the environment (AI_PROVIDER, AI_MODEL); the prompt is the production label's."""
    row = _production_row_memo.get()
    if row is not None and not row.enabled:
        return PrefillConfig(enabled=False, prompt_version=None, provider="", model="")
    provider = row.provider if row else settings.AI_PROVIDER
    model = row.model if row else settings.AI_MODEL
    return PrefillConfig(
        enabled=True,
        prompt_version=prompt_version_for_new_run(),
        provider=provider,
        model=model_for_provider(provider, model),
    )


def production_config_forget() -> None:
    """Also the arms' parsed configurations (tests: their prompt versions vanish with the test)."""
    _production_row_memo.forget()
    _arm_configs.forget()


# --- arms --------------------------------------------------------------------------------------


def arm_config_parse(payload: dict) -> PrefillConfig:
    """An arm's payload as a configuration; ValidationError with a sentence if it means nothing."""
    try:
        data = _ArmPayload.model_validate(payload or {})
    except PydanticError as exc:
        raise ValidationError(f"The arm's payload is not a configuration: {_first(exc)}") from None
    if data.ai == "off":
        if data.prompt_version or data.provider or data.model:
            raise ValidationError('An arm with "ai": "off" takes nothing else.')
        return PrefillConfig(enabled=False, prompt_version=None, provider="", model="")
    if data.prompt_version is None and data.provider is None and data.model is None:
        return production_config()
    if not (data.prompt_version and data.provider):
        raise ValidationError('Give "prompt_version" and "provider" (and "model" for openai).')
    if data.provider not in PROVIDERS:
        raise ValidationError(f"Unknown provider {data.provider!r}: use openai or baseline.")
    if data.provider == "openai" and not data.model:
        raise ValidationError('An openai arm needs a "model".')
    return PrefillConfig(
        enabled=True,
        prompt_version=_version_by_prefix(data.prompt_version),
        provider=data.provider,
        model=model_for_provider(data.provider, data.model or ""),
    )


def _version_by_prefix(prefix: str) -> PromptVersion:
    matches = list(PromptVersion.objects.filter(content_hash__startswith=prefix.lower())[:2])
    if len(matches) != 1:
        found = "no" if not matches else "more than one"
        raise ValidationError(f"The prompt version {prefix!r} matches {found} version.")
    return matches[0]


def _first(exc: PydanticError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def prefill_config_for(*, user) -> PrefillConfig:
    """What this seller gets now: their arm's configuration if an experiment serves them one,
    else production. An arm whose payload broke after the start falls back to production
    rather than failing the seller."""
    return prefill_assignment_for(user=user)[1]


def prefill_assignment_for(*, user) -> tuple[ArmAssignment | None, PrefillConfig]:
    """The seller's arm (None: production) and what it means, from one assignment: the Sell
    page needs both (the arm for the session and its exposure, the configuration to show)."""
    assignment = assignment_for(user=user)
    if assignment is None:
        return None, production_config()
    return assignment, config_of_assignment(assignment)


# An arm's parsed configuration, per process for this long: parsing looks its prompt version up,
# a query on every Sell page and upload of an enrolled seller otherwise (the 2 ms budget of
# assignment, benchmarks/assignment_overhead.py). Payloads of a started arm do not change and
# prompt versions are immutable; the production configuration ({} arms) has its own memo.
_arm_configs = ProcessMemo(dict, refresh_seconds=PRODUCTION_CONFIG_REFRESH_SECONDS)


def config_of_assignment(assignment: ArmAssignment) -> PrefillConfig:
    if not assignment.payload:
        return _as_arm(production_config(), assignment)
    cache = _arm_configs.get()
    key = (assignment.arm_id, json.dumps(assignment.payload, sort_keys=True))
    config = cache.get(key)
    if config is None:
        try:
            config = arm_config_parse(assignment.payload)
        except ValidationError:
            return production_config()
        cache[key] = config
    return _as_arm(config, assignment)


def _as_arm(config: PrefillConfig, assignment: ArmAssignment) -> PrefillConfig:
    return PrefillConfig(
        enabled=config.enabled,
        prompt_version=config.prompt_version,
        provider=config.provider,
        model=config.model,
        arm_id=assignment.arm_id,
        arm_key=assignment.arm_key,
        experiment_key=assignment.experiment_key,
    )


# --- evidence to start -------------------------------------------------------------------------


def arm_eval_evidence(config: PrefillConfig) -> EvalRun | None:
    """The newest completed, gate-passed eval run of exactly this configuration over the whole
    current eval set (no tags, no limit), or None. "No AI" needs none."""
    from .evals.dataset import dataset_version, eval_cases_select
    from .evals.runner import eval_config_for

    key = eval_config_for(
        prompt_version=config.prompt_version, provider=config.provider, model=config.model
    ).config_key
    return (
        EvalRun.objects.filter(
            status=EvalRun.Status.COMPLETED,
            gate_passed=True,
            config_key=key,
            dataset_version=dataset_version(eval_cases_select()),
            limit__isnull=True,
            tags=[],
        )
        .order_by("-created_at", "-id")
        .first()
    )


def experiment_start_checked(
    *, experiment: Experiment, actor, overrides: dict[int, str] | None = None
) -> Experiment:
    """Start an experiment whose every AI arm has a passed eval run of its configuration on
    the current dataset, or a written reason to go without one (kept in the audit log)."""
    from experiments.services import experiment_start

    # A blank reason is no reason: it must not let an arm start without evidence, unaudited.
    overrides = {
        arm_id: reason.strip()
        for arm_id, reason in (overrides or {}).items()
        if reason and reason.strip()
    }
    evidence, missing = {}, []
    for arm in experiment.arms.all():
        config = arm_config_parse(arm.payload)
        found = arm_eval_evidence(config) if config.enabled else None
        if found is not None:
            evidence[arm.pk] = {"eval_run": found.pk, "config": config.describe()}
        elif config.enabled and arm.pk not in overrides:
            missing.append(f"{arm.key} ({config.describe()})")
        else:
            evidence[arm.pk] = {"config": config.describe()}
    if missing:
        raise ValidationError(
            "No passed eval run on the current eval set for: " + ", ".join(missing) + ". Run "
            "manage.py run_evals for each, or give a reason to start without one."
        )
    return experiment_start(experiment=experiment, actor=actor, evidence=evidence,
                            overrides=overrides)  # fmt: skip


# --- ship and roll back ------------------------------------------------------------------------


@transaction.atomic
def production_config_set(
    *, config: PrefillConfig, actor, note: str = "", experiment_key: str = ""
) -> ProductionConfig:
    """Make `config` production for every seller outside an experiment: the prompt label moves
    (audited in PromptLabelEvent) and a new ProductionConfig row records the rest. Rolling back
    is calling this with the previous configuration."""
    if not ProductionConfig.objects.exists():
        _record_environment_default(actor)
    if config.enabled:
        current = PromptLabel.objects.filter(name=PromptLabel.PRODUCTION).first()
        if current is None or current.version_id != config.prompt_version.pk:
            prompt_label_move(label=PromptLabel.PRODUCTION, version=config.prompt_version,
                              user=actor, note=note[:200])  # fmt: skip
    row = ProductionConfig.objects.create(
        enabled=config.enabled,
        prompt_version=config.prompt_version,
        provider=config.provider,
        model=config.model,
        changed_by=actor,
        note=note[:300],
        experiment_key=experiment_key,
    )
    _production_row_memo.forget()
    transaction.on_commit(_production_row_memo.forget)
    return row


def _record_environment_default(actor) -> None:
    """Before the first change, what production was (the environment's settings and the label)
    becomes a row too, so that rolling back to it is the same action as any other."""
    before = production_config()
    ProductionConfig.objects.create(
        enabled=True,
        prompt_version=before.prompt_version,
        provider=before.provider,
        model=before.model,
        changed_by=None,
        note="production before the first change (from the environment)",
    )


@transaction.atomic
def experiment_ship(*, experiment: Experiment, arm: Arm, actor, note: str = "") -> Experiment:
    """Make the arm's configuration production and end the experiment, in one transaction.
    Refused while a sample-ratio mismatch is not acknowledged: the split itself is suspect."""
    from experiments.selectors import ship_blockers

    blockers = ship_blockers(experiment=experiment)
    if blockers:
        raise ValidationError(blockers)
    config = arm_config_parse(arm.payload)
    production_config_set(
        config=config,
        actor=actor,
        note=note or f"shipped arm {arm.key} of experiment {experiment.key}",
        experiment_key=experiment.key,
    )
    return experiment_end(experiment=experiment, actor=actor, shipped_arm=arm, note=note)


def production_config_restore(*, row: ProductionConfig, actor) -> ProductionConfig:
    """Roll back: the same action as a ship, with an earlier configuration."""
    config = PrefillConfig(
        enabled=row.enabled,
        prompt_version=row.prompt_version,
        provider=row.provider,
        model=row.model,
    )
    return production_config_set(
        config=config,
        actor=actor,
        note=f"rolled back to the configuration of {row.changed_at:%Y-%m-%d %H:%M}",
    )
