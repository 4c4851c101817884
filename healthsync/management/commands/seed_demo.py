import importlib
import importlib.util

from django.apps import apps
from django.core.management.base import BaseCommand

from ...demo import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Load the demo data of every app (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        # Each app that has demo data offers ``<app>.demo.seed()``; apps are seeded in
        # INSTALLED_APPS order, so the core's hospitals exist before the domain apps' data.
        logins = []
        for config in apps.get_app_configs():
            if not config.name.isidentifier() or importlib.util.find_spec(f"{config.name}.demo") is None:
                continue
            module = importlib.import_module(f"{config.name}.demo")
            if hasattr(module, "seed"):
                logins += module.seed() or []
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        for email, role in logins:
            self.stdout.write(f"  {email:32} {role}")
