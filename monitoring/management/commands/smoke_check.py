"""manage.py smoke_check --base-url URL: is this deployment up and working? (monitoring/smoke.py)"""

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from monitoring.smoke import (
    DRY_RUN,
    PREFILL_MODES,
    RUN,
    SKIP,
    TOKEN_ENV,
    BadBaseUrl,
    SmokeConfig,
    base_url_clean,
    report_json,
    report_line,
    report_markdown,
    smoke_passed,
    smoke_run,
    summary_line,
)

EXIT_PASSED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Command(BaseCommand):
    help = (
        "Check a deployed Trova from outside, over HTTP only (no database): /healthz, /readyz, "
        "the browse page, the listings API, the API schema and a pre-fill. One line per check, "
        "then a summary; exit 0 when every check passes, 1 when one fails, 2 for bad usage. "
        f"The pre-fill uses the API token in the environment variable {TOKEN_ENV} (never an "
        "argument, which `ps` would show). Its runs are real runs of that seller, counted in the "
        "run log, the dashboard and the seller's daily quota: use the token of a dedicated smoke "
        "seller account, never a real seller's."
    )
    # It checks another deployment: this one's configuration and database are not its concern.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--base-url", required=True, help="e.g. https://staging.trova.example")
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="Seconds per HTTP request (default 10)."
        )
        parser.add_argument(
            "--prefill",
            choices=PREFILL_MODES,
            help=(
                f"{RUN}: upload a generated photo and wait for its draft (a real provider call); "
                f"{DRY_RUN}: prove the endpoint, the token and the photo validation (401 without "
                "the token, 400 with it for a file that is not a photo) with no run and no "
                f"provider call; {SKIP}: none. Default: {RUN} when {TOKEN_ENV} is set, else {SKIP} "
                "(reported as skipped)."
            ),
        )
        parser.add_argument(
            "--prefill-budget",
            type=float,
            default=30.0,
            help="Seconds the pre-fill may take from upload to draft (default 30).",
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--markdown", metavar="FILE", help="Also write the report as a Markdown table to FILE."
        )

    def handle(self, *args, **options):
        config = self._config(options)
        results = smoke_run(config)
        if options["json"]:
            self.stdout.write(report_json(config.base_url, results))
        else:
            for result in results:
                self.stdout.write(report_line(result))
            self.stdout.write(summary_line(config.base_url, results))
        if options["markdown"]:
            Path(options["markdown"]).write_text(report_markdown(config.base_url, results))
        sys.exit(EXIT_PASSED if smoke_passed(results) else EXIT_FAILED)

    def _config(self, options) -> SmokeConfig:
        try:
            base_url = base_url_clean(options["base_url"])
        except BadBaseUrl as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        token = os.environ.get(TOKEN_ENV, "").strip()
        prefill = options["prefill"] or (RUN if token else SKIP)
        if prefill != SKIP and not token:
            raise CommandError(
                f"--prefill {prefill} needs the smoke seller's API token in {TOKEN_ENV}.",
                returncode=EXIT_USAGE,
            )
        for name in ("timeout", "prefill_budget"):
            if not options[name] > 0:
                flag = "--" + name.replace("_", "-")
                raise CommandError(f"{flag} must be above 0 seconds.", returncode=EXIT_USAGE)
        return SmokeConfig(
            base_url=base_url,
            timeout=options["timeout"],
            prefill=prefill,
            prefill_budget=options["prefill_budget"],
            token=token,
        )
