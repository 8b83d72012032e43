from django.core.management.base import BaseCommand

from listings.demo import DEMO_PASSWORD, DEMO_USERS, demo_data_load


class Command(BaseCommand):
    help = "Create demo sellers and listings with generated photos. Safe to run again."

    def handle(self, *args, **options):
        created, existing = demo_data_load()
        self.stdout.write(f"Demo listings: {created} created, {existing} already there.")
        names = ", ".join(username for username, _, _ in DEMO_USERS)
        self.stdout.write(f"Demo sellers: {names} (password: {DEMO_PASSWORD})")
