"""Health check of a worker or beat container: is this host's process recording its heartbeat?

docker-compose runs `python manage.py monitoring_heartbeat_check --kind worker` inside the worker
container: exit 0 when that container's worker recorded a heartbeat within the limit, 1 when it
did not (or Redis cannot be read), 2 when there is no shared cache to read (no REDIS_URL).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from monitoring.heartbeats import KINDS, heartbeat_age_seconds, this_host


class Command(BaseCommand):
    # A probe every minute: skip the system checks, which cost more than the answer.
    requires_system_checks = []
    help = "Exit 0 if this host's worker or beat recorded a heartbeat recently, else non-zero."

    def add_arguments(self, parser):
        parser.add_argument("--kind", choices=KINDS, required=True)
        parser.add_argument(
            "--max-age",
            type=float,
            default=None,
            help="Seconds (default: READINESS_HEARTBEAT_MAX_AGE_SECONDS).",
        )
        parser.add_argument(
            "--any-host",
            action="store_true",
            help="Accept a heartbeat from any host, not only this one.",
        )

    def handle(self, *args, kind, max_age, any_host, **options):
        if not settings.REDIS_URL:
            raise CommandError(
                "No REDIS_URL: tasks run in-process, there is no worker or beat.", returncode=2
            )
        limit = max_age if max_age is not None else settings.READINESS_HEARTBEAT_MAX_AGE_SECONDS
        host = None if any_host else this_host()
        try:
            age = heartbeat_age_seconds(kind=kind, host=host)
        except Exception as exc:  # noqa: BLE001 - any failure to read is an unhealthy answer
            raise CommandError(f"Cannot read the {kind} heartbeat: {exc}") from exc
        where = "any host" if any_host else f"host {host}"
        if age is None:
            raise CommandError(f"No {kind} heartbeat ever seen from {where}.")
        if age > limit:
            raise CommandError(f"The {kind} heartbeat from {where} is {age:.0f} s old (> {limit}).")
        self.stdout.write(f"ok: {kind} heartbeat from {where} {age:.0f} s ago")
