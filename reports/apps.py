from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Reports, analytics and FHIR export: reads across every domain app, writes nothing."""

    name = "reports"
    verbose_name = "Reports"
