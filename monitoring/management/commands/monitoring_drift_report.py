import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitoring.drift import ordered_dimensions
from monitoring.drift_services import drift_report_build


class Command(BaseCommand):
    help = (
        "Build the drift report of one day (default: yesterday, in the site's time zone) "
        "against the 28 days before it. Building a day again replaces its report."
    )

    def add_arguments(self, parser):
        parser.add_argument("--day", help="YYYY-MM-DD (default: yesterday)")

    def handle(self, *args, **options):
        report = drift_report_build(day=self._day(options["day"]))
        self.stdout.write(
            f"Drift report {report.day}: {report.run_count} succeeded runs"
            f"{' - DRIFTED' if report.drifted else ''}"
        )
        for name, dim in ordered_dimensions(report.dimensions).items():
            psi = "-" if dim["psi"] is None else f"{dim['psi']:.3f}"
            p = "-" if dim["chi2_p"] is None else f"{dim['chi2_p']:.2g}"
            self.stdout.write(
                f"  {name:<11} {dim['level']:<17} PSI {psi:>7}  chi2 p {p:>8}  "
                f"n {dim['n']} vs {dim['reference_n']}"
            )

    def _day(self, text: str | None) -> dt.date:
        if not text:
            return timezone.localdate() - dt.timedelta(days=1)
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise CommandError(f"--day: {text!r} is not a date like 2026-03-10") from None
