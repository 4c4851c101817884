"""The blood bank's regulatory parameters: the setting where one is set, else the rule's default.

The defaults live once, as constants in ``rules``; ``config/settings.py`` sets a value only when its
environment variable is (docs/configuration.md names each), so a deployment overrides the rule there.
Read at each call, so a changed setting applies at once.
"""

from django.conf import settings

from . import rules


def setting_or(name: str, default):
    """The setting ``name`` when it is set (not None), else ``default``."""
    value = getattr(settings, name, None)
    return default if value is None else value


def o_negative_reserve() -> int:
    """O-negative units a hospital keeps back for O-negative recipients and emergencies."""
    return setting_or("HEALTHSYNC_O_NEGATIVE_RESERVE", rules.O_NEGATIVE_RESERVE)


def crossmatch_sample_days() -> int:
    """Days a recipient's sample serves for crossmatching (21 CFR 606.151(b))."""
    return setting_or("HEALTHSYNC_CROSSMATCH_SAMPLE_DAYS", rules.CROSSMATCH_SAMPLE_DAYS)


def return_to_stock_minutes() -> int:
    """Minutes after issue within which an unused refrigerated unit may go back to stock."""
    return setting_or("HEALTHSYNC_RETURN_TO_STOCK_MINUTES", rules.RETURN_TO_STOCK_MINUTES)


def standard_volumes() -> dict[str, int]:
    """The volume of one bag per component (ml); a setting overrides the components it names."""
    return {**rules.STANDARD_VOLUME_ML, **setting_or("HEALTHSYNC_STANDARD_VOLUME_ML", {})}


def default_par() -> tuple[int, int]:
    """The (critical, low) par levels where staff have set none."""
    return (
        setting_or("HEALTHSYNC_DEFAULT_PAR_CRITICAL", rules.DEFAULT_PAR_CRITICAL),
        setting_or("HEALTHSYNC_DEFAULT_PAR_LOW", rules.DEFAULT_PAR_LOW),
    )
