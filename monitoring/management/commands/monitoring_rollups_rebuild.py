"""Rebuild the dashboard's buckets from the source rows: after a restore, a bug fix or a
change of definition. Idempotent; safe while the site runs (each day is replaced in one
transaction)."""

import time
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from monitoring.rollups import buckets_rebuild


def _moment(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None and (day := parse_date(value)) is not None:
        moment = datetime(day.year, day.month, day.day)
    if moment is None:
        raise CommandError(f"--since {value!r} is not a date or a date and time.")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Recompute the monitoring buckets (minutes, hours, days) from the runs and feedback."

    def add_arguments(self, parser):
        parser.add_argument(
            "--since", help="Date (or date and time) to rebuild from; default: everything."
        )

    def handle(self, *args, since=None, **options):
        started = time.monotonic()
        days = buckets_rebuild(since=_moment(since) if since else None, now=timezone.now())
        took = time.monotonic() - started
        self.stdout.write(f"Rebuilt {days} day(s) of buckets in {took:.1f} s.")
