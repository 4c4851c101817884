from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class HealthSyncConfig(AppConfig):
    default = True
    name = "healthsync"
    verbose_name = "HealthSync core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from . import (
            audit,  # noqa: F401  registers the audited models
            checks,  # noqa: F401  registers the system checks
            region_admin,  # noqa: F401  the managed regions in the console
            security,
        )

        user_logged_in.connect(security.stamp_login, dispatch_uid="healthsync.stamp_login")
        security.connect()


class HealthSyncAdminConfig(admin_apps.AdminConfig):
    default = False
    """Makes the HealthSync operations console the default admin site, so every app registers on it."""

    default_site = "healthsync.admin_site.OperationsAdminSite"
