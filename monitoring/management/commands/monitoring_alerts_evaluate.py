"""Judge the alert rules once, as beat's every-minute task does: for a cron job watching from
outside (beat down means no rule is judged, the beat-heartbeat one included), or by hand."""

from django.core.management.base import BaseCommand

from monitoring.alert_services import alerts_evaluate


class Command(BaseCommand):
    help = "Judge every enabled alert rule once; print the transitions made."

    def handle(self, *args, **options):
        events = alerts_evaluate()
        for event in events:
            self.stdout.write(f"{event.rule.key}: {event.from_status} -> {event.to_status}")
        self.stdout.write(f"{len(events)} transition(s)")
