import logging
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from experiments.simulation import ArmBehaviour
from listings.simulation import (
    DEFAULT_ABANDONMENT,
    SIM_PASSWORD,
    USERNAME_PREFIX,
    SimulationError,
    SimulationPlan,
    behaviour_keys_check,
    demo_experiment_ensure,
    simulation_run,
    summary_by_arm,
)


class Command(BaseCommand):
    help = (
        "Drive synthetic sellers through the real Sell page and API (sign in, open Sell, upload "
        "an eval-set photo, correct the draft, rate, publish or give up), spread over the last "
        "days with the clock moved instead of waiting. Creates users and listings: DEBUG only. "
        "AI arms call their provider for real: with OPENAI_API_KEY set, production and openai "
        "arms call OpenAI once per seller who uploads."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sellers", type=int, default=200, help="How many (default 200).")
        parser.add_argument(
            "--effect", action="append", default=[], metavar="ARM=SPEEDUP",
            help="An arm's speedup over the base time to publish, e.g. baseline=0.2 (20%% "
            "faster). Repeatable; arms not named: 0.",
        )  # fmt: skip
        parser.add_argument(
            "--abandonment", action="append", default=[], metavar="[ARM=]SHARE",
            help=f"Share of an arm's sessions that give up, e.g. no-ai=0.25; a bare number sets "
            f"every arm's. Repeatable; default {DEFAULT_ABANDONMENT}.",
        )  # fmt: skip
        parser.add_argument(
            "--median-seconds", type=float, default=ArmBehaviour.base_median_seconds,
            help="The median time to publish without any speedup (default %(default)s).",
        )  # fmt: skip
        parser.add_argument(
            "--sd-log-seconds", type=float, default=ArmBehaviour.sd_log_seconds,
            help="The spread of log seconds to publish around that median (default %(default)s).",
        )  # fmt: skip
        parser.add_argument("--seed", type=int, default=None, help="Fixes every draw.")
        parser.add_argument("--days", type=float, default=7.0, help="Spread over (default 7).")
        parser.add_argument(
            "--create-demo-experiment", action="store_true",
            help="If no experiment is live: create and start one (control, baseline, no-ai) at "
            "100%% enrollment, from the start of the window.",
        )  # fmt: skip
        parser.add_argument("--quiet", action="store_true", help="Only the summary.")
        parser.add_argument(
            "--i-know-this-is-not-production", action="store_true", dest="not_production",
            help="Run with DEBUG off too (it creates users and listings).",
        )  # fmt: skip

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["not_production"]:
            raise CommandError(
                "simulate_sellers creates users and listings, and DEBUG is off: this looks like "
                "production. Pass --i-know-this-is-not-production if it is not."
            )
        if options["sellers"] < 1 or options["days"] <= 0:
            raise CommandError("--sellers must be at least 1 and --days above 0.")
        plan = _plan(options)
        if options["create_demo_experiment"]:
            start_at = timezone.now() - timedelta(days=plan.days, minutes=1)
            experiment, created = demo_experiment_ensure(start_at=start_at, seed=plan.seed)
            verb = "Created and started" if created else "Using the live"
            self._say(options, f"{verb} experiment {experiment.key}.")
        try:
            behaviour_keys_check(plan)
            with _quiet_tasks():
                outcomes = simulation_run(plan=plan, progress=self._progress(options))
        except (ValidationError, ValueError, SimulationError) as exc:
            raise CommandError(_sentence(exc)) from exc
        self._summary(outcomes)

    def _progress(self, options):
        if options["quiet"]:
            return None

        def report(done: int, total: int) -> None:
            if done % 25 == 0 or done == total:
                self.stdout.write(f"{done}/{total} sellers")

        return report

    def _say(self, options, text: str) -> None:
        if not options["quiet"]:
            self.stdout.write(text)

    def _summary(self, outcomes) -> None:
        table = Table(
            title="Simulated sellers per arm",
            caption="median s: time to publish of the published sessions, as the site stored it",
        )
        for column in ("arm", "sellers", "sessions", "published", "gave up", "median s",
                       "drafts", "thumbs up"):  # fmt: skip
            table.add_column(column, justify="left" if column == "arm" else "right")
        for arm in summary_by_arm(outcomes):
            median = "-" if arm.median_seconds is None else f"{arm.median_seconds:.0f}"
            thumbs = f"{arm.thumbs_up}/{arm.ratings}" if arm.ratings else "-"
            table.add_row(arm.arm_key, str(arm.sellers), str(arm.sessions), str(arm.published),
                          str(arm.abandoned), median, str(arm.drafts), thumbs)  # fmt: skip
        console = Console(file=self.stdout, width=100)
        console.print(table)
        self.stdout.write(
            f"Sellers sign in as {USERNAME_PREFIX}<n> with the password {SIM_PASSWORD}. Sessions "
            f"older than FEEDBACK_ABANDON_AFTER_HOURS ({settings.FEEDBACK_ABANDON_AFTER_HOURS} h) "
            "that never published are marked abandoned; younger ones stay open."
        )


@contextmanager
def _quiet_tasks():
    """Celery logs every in-process task at INFO: one line per draft would bury the summary."""
    trace = logging.getLogger("celery.app.trace")
    previous = trace.level
    trace.setLevel(max(previous, logging.WARNING))
    try:
        yield
    finally:
        trace.setLevel(previous)


def _plan(options) -> SimulationPlan:
    try:
        effects = dict(_pairs(options["effect"], "--effect", bare=False))
        abandonment = dict(_pairs(options["abandonment"], "--abandonment", bare=True))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    default = abandonment.pop(None, DEFAULT_ABANDONMENT)
    plan = SimulationPlan(sellers=options["sellers"], days=options["days"], seed=options["seed"],
                          effects=effects, abandonment=abandonment,
                          default_abandonment=default,
                          base_median_seconds=options["median_seconds"],
                          sd_log_seconds=options["sd_log_seconds"])  # fmt: skip
    for key in plan.arm_keys() | {None}:
        try:
            plan.behaviour(key)
        except ValueError:
            raise CommandError(
                f"{key or 'default'}: need 0 <= speedup < 1, 0 <= abandonment <= 1, "
                "--median-seconds above 0 and --sd-log-seconds at least 0."
            ) from None
    return plan


def _pairs(values: list[str], flag: str, *, bare: bool):
    for value in values:
        key, sep, number = value.rpartition("=")
        if (not sep and not bare) or (sep and not key.strip()):
            raise ValueError(f"{flag} takes ARM=NUMBER, not {value!r}.")
        try:
            yield (key.strip() if sep else None), float(number)
        except ValueError:
            raise ValueError(f"{flag}: {number!r} is not a number.") from None


def _sentence(exc: Exception) -> str:
    return exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
