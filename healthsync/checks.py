"""HealthSync's own system checks (``manage.py check``; ``--deploy`` for the production ones)."""

from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.checks import Error, Tags, register


@register(Tags.staticfiles, deploy=True)
def static_files_collected(app_configs=None, **kwargs) -> list[Error]:
    """With the production storage, every page names its CSS and scripts through the manifest that
    ``collectstatic`` writes: without it each HTML page (the error pages too) is a 500."""
    if not isinstance(staticfiles_storage, ManifestFilesMixin) or staticfiles_storage.read_manifest() is not None:
        return []
    return [
        Error(
            f"Static files are not collected: {staticfiles_storage.location}/{staticfiles_storage.manifest_name} "
            "is missing, so every HTML page would fail with a server error.",
            hint=(
                "Run `manage.py collectstatic --noinput` (docs/configuration.md, Production) "
                "before starting the web processes."
            ),
            id="healthsync.E001",
        )
    ]
