"""manage.py run_evals: score a prompt version + model on the eval set, compare, gate.

Exit codes: 0 the gate passed; 1 a must-pass case failed, a floor was breached, or a field
regressed significantly against the baseline; 2 the run itself broke. See docs/evals.md.
With --enqueue the run goes to the evals queue instead: 0 queued, 2 nothing queued.
"""

import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ai_prefill.evals.gate import gate_checks_describe, gate_policy_for
from ai_prefill.evals.queueing import eval_run_enqueue, eval_run_enqueued_state
from ai_prefill.evals.reports import FORMATS, reports_write
from ai_prefill.evals.runner import CACHE_MODES, EvalRunBroken, eval_config_for, eval_run_execute
from ai_prefill.models import PromptVersion
from ai_prefill.prompt_registry import prompt_version_production, prompt_versions_sync
from ai_prefill.rollout import production_config
from marketplace.task_queues import QueueKind, queue_name

EXIT_PASSED, EXIT_GATE_FAILED, EXIT_BROKEN = 0, 1, 2


class Command(BaseCommand):
    help = "Run the eval set for a prompt version + model, compare with a baseline, and gate."

    def add_arguments(self, parser):
        parser.add_argument(
            "--prompt-version",
            default="production",
            help="'production' (default), a label like listing_draft@9951eb2c9b, "
            "a content-hash prefix, or a prompt name (its newest version)",
        )
        parser.add_argument(
            "--model", default=None, help="default: production's (a shipped arm's, else AI_MODEL)"
        )
        parser.add_argument(
            "--provider", default=None, help="openai or baseline; default: production's"
        )
        parser.add_argument(
            "--tags", default="", help="comma-separated; cases must carry all of them"
        )
        parser.add_argument("--limit", type=int, default=None)
        parser.add_argument("--repeats", type=int, default=1, help="answers per case")
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument("--cache", choices=CACHE_MODES, default="use")
        parser.add_argument(
            "--baseline",
            default="auto",
            help="'auto' (last run of the production configuration on the same "
            "dataset), 'none', or an eval run id",
        )
        parser.add_argument(
            "--format", default="table,json", help=f"comma-separated, any of: {', '.join(FORMATS)}"
        )
        parser.add_argument("--output-dir", default="reports/evals")
        parser.add_argument("--price-tolerance", type=float, default=0.30)  # fmt: skip
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="queue the run for an evals worker and return at once (no reports, no gate); "
            "see it in the admin's eval runs",
        )

    def handle(self, *args, **options):
        if options["enqueue"]:
            return self._enqueue(options)
        console = Console(stderr=False)
        try:
            config = self._config(options)
            formats = self._formats(options["format"])
            with _progress_bar() as bar:
                task = bar.add_task("eval cases", total=None)
                run = eval_run_execute(
                    config=config,
                    baseline=options["baseline"],
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        except EvalRunBroken as exc:
            self.stderr.write(f"run_evals: the run broke: {exc}")
            sys.exit(EXIT_BROKEN)
        except Exception as exc:  # anything unexpected is a broken run, not a failed gate
            self.stderr.write(f"run_evals: the run broke: {type(exc).__name__}: {exc}")
            sys.exit(EXIT_BROKEN)
        try:
            written = reports_write(run, formats, Path(options["output_dir"]), console)
        except Exception as exc:  # CI reads the reports: without them the run is broken, exit 2
            verdict = "passed" if run.gate_passed else "failed"
            self.stderr.write(
                f"run_evals: the run broke: could not write the reports: "
                f"{type(exc).__name__}: {exc} (eval run {run.pk} is stored; its gate {verdict})"
            )
            sys.exit(EXIT_BROKEN)
        for path in written:
            self.stdout.write(f"report: {path}")
        self._write_gate_checks(run)
        if run.gate_passed:
            self.stdout.write(f"eval run {run.pk}: gate passed")
            sys.exit(EXIT_PASSED)
        self.stdout.write(f"eval run {run.pk}: GATE FAILED")
        for reason in run.gate_reasons:
            self.stdout.write(f"  - {reason}")
        sys.exit(EXIT_GATE_FAILED)

    def _enqueue(self, options) -> None:
        """The same configuration, run by an evals worker (ai_prefill/evals/queueing.py)."""
        try:
            config = self._config(options)
            run = eval_run_enqueue(
                prompt_version=config.prompt_version,
                provider=config.provider,
                model=config.model,
                tags=config.tags,
                limit=config.limit,
                repeats=config.repeats,
            )
        except EvalRunBroken as exc:
            self.stderr.write(f"run_evals: nothing queued: {exc}")
            sys.exit(EXIT_BROKEN)
        described = (
            f"eval run {run.pk}: {run.prompt_version.label}, {run.provider}/{run.model}, "
            f"tags {list(run.tags) or 'none'}, limit {run.limit or 'none'}, repeats {run.repeats}"
        )
        state = eval_run_enqueued_state(run)
        if state.startswith("is queued"):
            self.stdout.write(f"queued {described}, on queue {queue_name(QueueKind.EVALS)!r}")
        else:  # taken by a worker already, or run here to its end without a broker
            self.stdout.write(f"{described}; it {state}")

    def _write_gate_checks(self, run) -> None:
        checks = gate_checks_describe(
            policy=gate_policy_for(run.provider),
            results=run.results.select_related("case"),
            metrics=run.metrics,
            comparison=run.comparison or {},
        )
        for line in checks:
            self.stdout.write(line)

    def _config(self, options):
        if options["repeats"] < 1 or options["concurrency"] < 1:
            raise EvalRunBroken("--repeats and --concurrency must be at least 1")
        production = production_config()
        return eval_config_for(
            prompt_version=_prompt_version(options["prompt_version"]),
            provider=options["provider"] or production.provider or settings.AI_PROVIDER,
            model=options["model"] or production.model or settings.AI_MODEL,
            tags=tuple(t.strip() for t in options["tags"].split(",") if t.strip()),
            limit=options["limit"],
            repeats=options["repeats"],
            concurrency=options["concurrency"],
            cache_mode=options["cache"],
            price_tolerance=options["price_tolerance"],
        )

    def _formats(self, value: str) -> list[str]:
        formats = [f.strip() for f in value.split(",") if f.strip()]
        unknown = set(formats) - set(FORMATS)
        if unknown:
            raise EvalRunBroken(
                f"unknown --format {', '.join(sorted(unknown))}; use {', '.join(FORMATS)}"
            )
        return formats


def _prompt_version(spec: str) -> PromptVersion:
    """Resolve --prompt-version; the prompt files are registered first, so an edit is runnable."""
    prompt_versions_sync()
    if spec == "production":
        return prompt_version_production()
    name, _, prefix = spec.partition("@")
    candidates = PromptVersion.objects.all()
    if prefix:
        found = candidates.filter(name=name, content_hash__startswith=prefix).first()
    elif len(spec) >= 6 and candidates.filter(content_hash__startswith=spec).exists():
        found = candidates.filter(content_hash__startswith=spec).first()
    else:
        found = candidates.filter(name=spec).order_by("-created_at", "-id").first()
    if found is None:
        raise EvalRunBroken(f"no prompt version matches {spec!r}")
    return found


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True),
    )  # fmt: skip
