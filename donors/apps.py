from django.apps import AppConfig


class DonorsConfig(AppConfig):
    name = "donors"
    verbose_name = "Donors"

    def ready(self):
        from bloodbank.services import release_checks

        from . import (
            audit,  # noqa: F401  registers the audited models
            dashboard,  # noqa: F401  registers the dashboard panels
        )
        from .selectors import unit_release_check

        if unit_release_check not in release_checks:
            release_checks.append(unit_release_check)
