from django.core.management.base import BaseCommand

from ...demo import DEMO_PASSWORD, seed_core


class Command(BaseCommand):
    help = "Load the demo data (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        logins = seed_core()
        self.stdout.write(self.style.SUCCESS("Demo data ready. Logins (password for all: %s):" % DEMO_PASSWORD))
        for email, role in logins:
            self.stdout.write(f"  {email:32} {role}")
