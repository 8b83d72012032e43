"""Synthetic sellers driven through the real site: `manage.py simulate_sellers`.

Each seller is a Django test `Client` with CSRF enforced, so every request goes through this
process's real URLs, middleware, views and database, exactly as a browser's would: sign in on the
login page, open Sell, upload an eval-set photo to the pre-fill API, wait for the draft, correct
the fields that differ from the case's truth, rate the suggestion, publish (or give up).

Which arm a seller is in is decided by the site (the sticky hashed assignment), never here; the
simulator only reads it back to pick that arm's behaviour. How long a seller takes and whether
they give up come from the same behaviour model as the statistical validation tests
(experiments.simulation). Real sellers take minutes, so instead of sleeping the simulator moves
the clock (time-machine) and runs sellers one after another, each at its own moment of the last
`days` days, so that opened_at, the draft, the rating and published_at lie those minutes apart.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser

import numpy as np
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ai_prefill.evals.dataset import eval_cases_select
from ai_prefill.evals.starter_set import starter_cases_load
from ai_prefill.models import EvalCase
from ai_prefill.prompt_registry import prompt_version_for_new_run
from ai_prefill.rollout import (
    MIN_HASH_PREFIX,
    arm_config_parse,
    arm_eval_evidence,
    experiment_start_checked,
)
from experiments.models import Experiment, Guardrail
from experiments.selectors import experiment_live
from experiments.services import (
    ArmSpec,
    GuardrailSpec,
    experiment_create,
    live_experiments_forget,
)
from experiments.simulation import ArmBehaviour, session_outcomes
from feedback.corrections import fields_changes
from feedback.models import SellSession
from feedback.services import sell_sessions_mark_abandoned
from marketplace.celery import app as celery_app
from marketplace.money import format_eur_input

SIM_PASSWORD = "trova-sim-2026"  # noqa: S105 - synthetic accounts on a DEBUG site only
USERNAME_PREFIX = "sim-seller-"
PRODUCTION = "production"  # the behaviour key of a seller outside every experiment arm
DEFAULT_ABANDONMENT = 0.15
OVERRIDE_REASON = "simulator demo"
# Of the sellers who were shown a draft, this share rates it (a thumb is optional on the page).
RATING_SHARE = 0.6
# A case without a true price still needs one on the form: the seller types this.
PRICE_WHEN_UNKNOWN = Decimal("10.00")
# Sessions start no later than this before now, so a modelled publish stays in the past.
LATEST_START = timedelta(hours=1)
MAX_POLLS = 60


class SimulationError(Exception):
    """The site did not answer as a browser would expect (the message says which page how)."""


@dataclass(frozen=True)
class SimulationPlan:
    sellers: int = 200
    days: float = 7.0
    seed: int | None = None
    effects: dict[str, float] = field(default_factory=dict)  # arm key -> speedup
    abandonment: dict[str, float] = field(default_factory=dict)  # arm key -> share
    default_abandonment: float = DEFAULT_ABANDONMENT
    base_median_seconds: float = ArmBehaviour.base_median_seconds
    sd_log_seconds: float = ArmBehaviour.sd_log_seconds

    def behaviour(self, arm_key: str) -> ArmBehaviour:
        return ArmBehaviour(
            speedup=self.effects.get(arm_key, 0.0),
            abandonment=self.abandonment.get(arm_key, self.default_abandonment),
            base_median_seconds=self.base_median_seconds,
            sd_log_seconds=self.sd_log_seconds,
        )

    def arm_keys(self) -> set[str]:
        return set(self.effects) | set(self.abandonment)


@dataclass(frozen=True)
class SellerOutcome:
    username: str
    arm_key: str
    ai: bool
    session_id: str
    published: bool
    modelled_seconds: float | None  # the behaviour model's time to publish (None: gave up)
    run_id: str | None = None
    draft_shown: bool = False
    fields_corrected: int = 0
    rating: str = ""


@dataclass(frozen=True)
class ArmSummary:
    arm_key: str
    sellers: int
    sessions: int
    published: int
    abandoned: int
    median_seconds: float | None  # of the published sessions, as the site stored them
    drafts: int
    thumbs_up: int
    ratings: int


# --- the run -------------------------------------------------------------------------------------


def simulation_run(
    *, plan: SimulationPlan, progress: Callable[[int, int], None] | None = None
) -> list[SellerOutcome]:
    """Drive `plan.sellers` sellers through the site, oldest first; then mark the sessions left
    open past FEEDBACK_ABANDON_AFTER_HOURS abandoned, as the beat task would."""
    cases = eval_set_ensure()
    rng = np.random.default_rng(plan.seed)
    starts = _start_times(rng, plan, timezone.now())
    sellers = _sellers(starts)
    outcomes = []
    with celery_in_process():
        for done, (start, user) in enumerate(zip(starts, sellers, strict=True), 1):
            case = cases[int(rng.integers(len(cases)))]
            outcomes.append(_SimulatedSeller(user, case, plan, rng).run(start))
            if progress is not None:
                progress(done, len(starts))
    sell_sessions_mark_abandoned()
    return outcomes


@contextmanager
def celery_in_process() -> Iterator[None]:
    """Tasks run here, at once, for the simulator's duration. A worker in another process would
    live in the real present while this process's clock is days back (its draft would be
    timestamped now, after the publish), and the simulated seller waits for its draft anyway."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


def eval_set_ensure() -> list[EvalCase]:
    """The active eval cases (their photos and truths); the starter set is loaded if none."""
    cases = eval_cases_select()
    if not cases:
        starter_cases_load()
        cases = eval_cases_select()
    return cases


def _start_times(rng: np.random.Generator, plan: SimulationPlan, now: datetime) -> list[datetime]:
    window = timedelta(days=plan.days) - LATEST_START
    offsets = np.sort(rng.uniform(0.0, max(window.total_seconds(), 0.0), size=plan.sellers))
    first = now - timedelta(days=plan.days)
    return [first + timedelta(seconds=float(offset)) for offset in offsets]


def _sellers(starts: list[datetime]) -> list:
    """sim-seller-1, -2, ... created or reused. A reused seller whose own open session (from an
    earlier run) would be resumed at their start time is passed over for the next number, or
    their new session would be that old one."""
    resume = timedelta(minutes=settings.FEEDBACK_SELL_SESSION_RESUME_MINUTES)
    users, number = [], 0
    for start in starts:
        while True:
            number += 1
            user = seller_ensure(number)
            clash = SellSession.objects.filter(
                user=user, status=SellSession.Status.OPEN, opened_at__gte=start - resume
            ).exists()
            if not clash:
                users.append(user)
                break
    return users


def seller_ensure(number: int):
    user, created = get_user_model().objects.get_or_create(
        username=f"{USERNAME_PREFIX}{number}",
        defaults={"email": f"{USERNAME_PREFIX}{number}@sim.trova.example"},
    )
    if created:
        user.password = _sim_password_hash()
        user.save(update_fields=["password"])
    return user


@functools.cache
def _sim_password_hash() -> str:
    """One hash for every synthetic seller: a password hash costs about half a second by design
    (PBKDF2), and these accounts share a published password anyway; signing in still checks it."""
    return make_password(SIM_PASSWORD)


# --- one seller ----------------------------------------------------------------------------------


@dataclass
class _SellPage:
    session_id: str
    ai: bool
    prefill_url: str
    hidden: dict[str, str]  # csrfmiddlewaretoken, opened, sell_session, ...


class _SimulatedSeller:
    """One seller's visit, in a browser of its own (cookies, CSRF token)."""

    def __init__(self, user, case: EvalCase, plan: SimulationPlan, rng: np.random.Generator):
        self.user, self.case, self.plan, self.rng = user, case, plan, rng
        self.secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
        host = next((h for h in settings.ALLOWED_HOSTS if h and "*" not in h), "localhost")
        self.host = host.lstrip(".")
        self.origin = f"{'https' if self.secure else 'http'}://{self.host}"
        self.client = Client(enforce_csrf_checks=True, HTTP_HOST=self.host)
        self.csrf = ""
        self.clock = None  # the seller's travelling clock, while they are on the site

    def run(self, start: datetime) -> SellerOutcome:
        with time_machine.travel(start, tick=True) as clock:
            self.clock = clock
            self._sign_in()
            page = self._open_sell()
            session = SellSession.objects.select_related("arm").get(pk=page.session_id)
            arm_key = session.arm.key if session.arm_id else PRODUCTION
            durations, published = session_outcomes(
                self.plan.behaviour(arm_key), 1, self.rng,
                observe_seconds=settings.FEEDBACK_ABANDON_AFTER_HOURS * 3600,
            )  # fmt: skip
            outcome = SellerOutcome(
                username=self.user.username, arm_key=arm_key, ai=page.ai,
                session_id=page.session_id, published=bool(published[0]),
                modelled_seconds=float(durations[0]) if published[0] else None,
            )  # fmt: skip
            if not outcome.published:
                return outcome  # gave up: the page stays open, nothing more is sent
            seconds = outcome.modelled_seconds
            # The photo comes early in the visit; the rest of the time goes on the details.
            photo_at = seconds * self.rng.uniform(0.05, 0.2)
            self._move_to(session.opened_at + timedelta(seconds=photo_at))
            filled = self._fill_with_ai(page) if page.ai else self._fill_by_hand(page)
            self._move_to(session.opened_at + timedelta(seconds=seconds))
            self._publish(page, filled)
        return dataclasses.replace(outcome, **filled.outcome_fields())

    def _move_to(self, moment: datetime) -> None:
        """The seller's next step at `moment`, or at once if they are already past it."""
        if moment > timezone.now():
            self.clock.move_to(moment)

    # --- pages ---

    def _sign_in(self) -> None:
        page = self._get(reverse("login"))
        token = _parse_page(page).hidden.get("csrfmiddlewaretoken", "")
        response = self._post(
            reverse("login"),
            {"username": self.user.username, "password": SIM_PASSWORD,
             "csrfmiddlewaretoken": token},
        )  # fmt: skip
        if response.status_code != 302:
            raise SimulationError(
                f"Signing in as {self.user.username} answered {response.status_code}."
            )

    def _open_sell(self) -> _SellPage:
        parsed = _parse_page(self._get(reverse("listings:sell")))
        form = parsed.forms.get("sell-form")
        if form is None or not form.get("data-sell-session"):
            raise SimulationError("The Sell page has no form#sell-form with data-sell-session.")
        self.csrf = parsed.hidden.get("csrfmiddlewaretoken", "")
        return _SellPage(
            session_id=form["data-sell-session"],
            ai=form.get("data-ai") == "on",
            prefill_url=form.get("data-prefill-url") or reverse("prefill-create"),
            hidden=parsed.hidden,
        )

    def _fill_by_hand(self, page: _SellPage) -> _Filled:
        self._event(page, "photo_chosen")
        return _Filled(values=_form_values(self._truth()), photo=self._photo())

    def _fill_with_ai(self, page: _SellPage) -> _Filled:
        self._event(page, "photo_chosen")
        response = self._post(page.prefill_url, {"image": self._photo()}, api=True)
        if response.status_code != 202:  # refused (an arm paused meanwhile, a limit): by hand
            return _Filled(values=_form_values(self._truth()), photo=self._photo())
        run_id = response.json()["id"]
        run = self._wait_for(run_id)
        if run["status"] != "succeeded" or not run["draft"]:
            return _Filled(values=_form_values(self._truth()), run_id=run_id)
        self._event(page, "draft_shown", run=run_id)
        values, corrected = self._corrected(run["draft"])
        rating = self._rate(run_id, corrected) if self.rng.random() < RATING_SHARE else ""
        return _Filled(values=_form_values(values), run_id=run_id, draft_shown=True,
                       fields_corrected=corrected, rating=rating)  # fmt: skip

    def _wait_for(self, run_id: str) -> dict:
        """Poll as the page does: again after the server's poll_after_ms (the clock moves)."""
        url = reverse("prefill-detail", args=[run_id])
        for _ in range(MAX_POLLS):
            response = self._get(url)
            if response.status_code != 200:
                raise SimulationError(f"GET {url} answered {response.status_code}.")
            run = response.json()
            if run["status"] in ("succeeded", "failed"):
                return run
            self.clock.shift(max(run.get("poll_after_ms") or 0, 500) / 1000)
        raise SimulationError(f"The pre-fill run {run_id} did not finish after {MAX_POLLS} polls.")

    def _corrected(self, draft: dict) -> tuple[dict, int]:
        """The draft with every field the site counts as changed set to the truth."""
        truth = self._truth()
        values, corrected = dict(draft), 0
        for change in fields_changes(draft, truth):
            if change.changed:
                values[change.field] = truth[change.field]
                corrected += 1
        if values.get("price_eur") is None:
            values["price_eur"] = float(PRICE_WHEN_UNKNOWN)
        return values, corrected

    def _rate(self, run_id: str, corrected: int) -> str:
        """More corrections, fewer thumbs up."""
        rating = "up" if self.rng.random() < 1 - corrected / 7 else "down"
        response = self._post(
            reverse("prefill-feedback", args=[run_id]), {"rating": rating}, api=True, json=True
        )
        if response.status_code != 200:
            raise SimulationError(f"Rating run {run_id} answered {response.status_code}.")
        return rating

    def _event(self, page: _SellPage, event: str, run: str | None = None) -> None:
        url = f"/api/sell-sessions/{page.session_id}/events/"
        body = {"event": event, **({"run": run} if run else {})}
        response = self._post(url, body, api=True, json=True)
        if response.status_code != 204:
            raise SimulationError(f"POST {url} ({event}) answered {response.status_code}.")

    def _publish(self, page: _SellPage, filled: _Filled) -> None:
        data = {
            **{k: v for k, v in page.hidden.items() if k in ("opened", "sell_session")},
            "sell_session": page.session_id,
            "csrfmiddlewaretoken": self.csrf,
            **filled.values,
        }
        if filled.run_id:
            data["prefill_run"] = filled.run_id
        if filled.photo is not None:
            data["photo"] = filled.photo
        response = self._post(reverse("listings:sell"), data)
        if response.status_code != 302:
            raise SimulationError(
                f"Publishing as {self.user.username} answered {response.status_code}: "
                + "; ".join(_parse_page(response).errors)
            )

    # --- the case ---

    def _truth(self) -> dict:
        truth = self.case.expected()
        truth["title"] = truth["title"] or self.case.key
        truth["description"] = truth["description"] or truth["title"]
        if truth["price_eur"] is None:
            truth["price_eur"] = float(PRICE_WHEN_UNKNOWN)
        return truth

    def _photo(self) -> SimpleUploadedFile:
        with self.case.image.open("rb") as image:
            return SimpleUploadedFile("photo.jpg", image.read(), content_type="image/jpeg")

    # --- requests ---

    def _get(self, url: str):
        return self.client.get(url, secure=self.secure)

    def _post(self, url: str, data: dict, *, api: bool = False, json: bool = False):
        headers = {"Origin": self.origin}  # as a browser sends with every POST
        if api:
            headers["X-CSRFToken"] = self.csrf
        if json:
            return self.client.post(url, data, content_type="application/json",
                                    headers=headers, secure=self.secure)  # fmt: skip
        return self.client.post(url, data, headers=headers, secure=self.secure)


@dataclass
class _Filled:
    """What the seller is about to publish, and how the AI went."""

    values: dict[str, str]
    photo: SimpleUploadedFile | None = None
    run_id: str | None = None
    draft_shown: bool = False
    fields_corrected: int = 0
    rating: str = ""

    def outcome_fields(self) -> dict:
        return {"run_id": self.run_id, "draft_shown": self.draft_shown,
                "fields_corrected": self.fields_corrected, "rating": self.rating}  # fmt: skip


def _form_values(values: dict) -> dict[str, str]:
    """Field values as the page's inputs hold them (the price as the site writes it)."""
    form = {name: "" if value is None else str(value) for name, value in values.items()}
    form["price_eur"] = format_eur_input(Decimal(str(values["price_eur"])))
    return form


# --- HTML ----------------------------------------------------------------------------------------


class _PageParser(HTMLParser):
    """Forms by id (their attributes), hidden inputs by name, and error messages."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self.hidden: dict[str, str] = {}
        self.errors: list[str] = []
        self._in_error = False

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and attributes.get("id"):
            self.forms[attributes["id"]] = attributes
        elif tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.hidden.setdefault(attributes["name"], attributes.get("value", ""))
        self._in_error = "error" in attributes.get("class", "").split() or (
            "errorlist" in attributes.get("class", "").split()
        )

    def handle_data(self, data):
        if self._in_error and data.strip():
            self.errors.append(data.strip())


def _parse_page(response) -> _PageParser:
    parser = _PageParser()
    parser.feed(response.content.decode())
    return parser


# --- the demo experiment -------------------------------------------------------------------------


# The thresholds the admin suggests, so the demo's results page shows its guardrails judged.
DEMO_GUARDRAILS = [
    GuardrailSpec(metric=Guardrail.Metric.FAILED_OR_EMPTY, threshold=0.10),
    GuardrailSpec(metric=Guardrail.Metric.P95_SECONDS_TO_DRAFT, threshold=8.0),
    GuardrailSpec(metric=Guardrail.Metric.COST_PER_PUBLISHED, threshold=0.01),
]


def demo_experiment_ensure(
    *, start_at: datetime, seed: int | None = None
) -> tuple[Experiment, bool]:
    """The live Sell experiment, or a new one started at `start_at` (with the clock moved there,
    so the sessions of the whole window fall inside it): control on production, the offline
    baseline on production's prompt, and no AI, at 100% enrollment. Arms without a passed eval
    run start with the override reason "simulator demo" (in the audit log). With a seed, the
    assignment salt is fixed too, so the same sellers land in the same arms."""
    live = experiment_live()
    if live is not None:
        return live, False
    prompt = prompt_version_for_new_run().content_hash[:MIN_HASH_PREFIX]
    arms = [
        ArmSpec(key="control", is_control=True, payload={},
                description="Production, whatever it is."),
        ArmSpec(key="baseline", payload={"prompt_version": prompt, "provider": "baseline",
                                          "model": ""},
                description="The offline baseline on production's prompt."),
        ArmSpec(key="no-ai", payload={"ai": "off"}, description="The plain form."),
    ]  # fmt: skip
    with time_machine.travel(start_at, tick=True):
        experiment = experiment_create(
            key=f"simulator-demo-{start_at:%Y%m%d-%H%M%S}",
            hypothesis="Simulated sellers publish faster with AI than without (a demo).",
            arms=arms,
            guardrails=DEMO_GUARDRAILS,
            enrollment_percent=100,
            salt=None if seed is None else f"simulator-{seed}",
        )
        overrides = {
            arm.pk: OVERRIDE_REASON for arm in experiment.arms.all() if _needs_override(arm.payload)
        }
        experiment_start_checked(experiment=experiment, actor=None, overrides=overrides)
    live_experiments_forget()
    return experiment, True


def _needs_override(payload: dict) -> bool:
    config = arm_config_parse(payload)
    return config.enabled and arm_eval_evidence(config) is None


def behaviour_keys_check(plan: SimulationPlan) -> None:
    """Every arm key in the flags must mean something: an arm of the live experiment or
    "production"; ValidationError naming the valid ones otherwise."""
    live = experiment_live()
    valid = {PRODUCTION} | ({arm.key for arm in live.arms.all()} if live else set())
    unknown = plan.arm_keys() - valid
    if unknown:
        names, keys = ", ".join(sorted(unknown)), ", ".join(sorted(valid))
        raise ValidationError(f"No arm {names} here; the arm keys are {keys}.")


# --- the summary ---------------------------------------------------------------------------------


def summary_by_arm(outcomes: list[SellerOutcome]) -> list[ArmSummary]:
    """Per arm, as the site stored it: sessions, published, abandoned, the median stored time."""
    stored = dict(
        SellSession.objects.filter(pk__in=[o.session_id for o in outcomes]).values_list(
            "pk", "seconds_to_publish"
        )
    )
    summaries = []
    for arm_key in sorted({o.arm_key for o in outcomes}):
        mine = [o for o in outcomes if o.arm_key == arm_key]
        seconds = [
            stored[uuid.UUID(o.session_id)]
            for o in mine
            if o.published and stored.get(uuid.UUID(o.session_id)) is not None
        ]
        summaries.append(
            ArmSummary(
                arm_key=arm_key,
                sellers=len({o.username for o in mine}),
                sessions=len({o.session_id for o in mine}),
                published=sum(o.published for o in mine),
                abandoned=sum(not o.published for o in mine),
                median_seconds=statistics.median(seconds) if seconds else None,
                drafts=sum(o.draft_shown for o in mine),
                thumbs_up=sum(o.rating == "up" for o in mine),
                ratings=sum(bool(o.rating) for o in mine),
            )
        )
    return summaries
