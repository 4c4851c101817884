from django.apps import AppConfig


class BloodBankConfig(AppConfig):
    name = "bloodbank"
    verbose_name = "Blood bank"

    def ready(self):
        from . import (
            audit,  # noqa: F401  registers the audited models
            dashboard,  # noqa: F401  registers the dashboard panels
            display,  # noqa: F401  registers the urgency column
        )
