"""The donors app's regulatory parameters: the setting where one is set, else the rule's default
(``rules``; see ``bloodbank.parameters``)."""

from bloodbank.parameters import setting_or

from . import rules


def donation_intervals() -> dict[str, int]:
    """Days a donor waits after a donation, by that donation's type; a setting overrides the types it names."""
    return {**rules.DEFAULT_INTERVALS, **setting_or("HEALTHSYNC_DONATION_INTERVALS", {})}


def double_red_cells_minimum_weight_kg() -> float:
    return float(setting_or("HEALTHSYNC_DOUBLE_RED_CELLS_MINIMUM_WEIGHT_KG", rules.DOUBLE_RED_CELLS_MINIMUM_WEIGHT_KG))


def required_markers() -> list[str]:
    """Infection markers that must be recorded negative before a donation's units leave quarantine."""
    return list(setting_or("HEALTHSYNC_REQUIRED_MARKERS", rules.DEFAULT_REQUIRED_MARKERS))


def further_markers() -> list[str]:
    """Further infection markers results may be recorded under."""
    return list(setting_or("HEALTHSYNC_FURTHER_MARKERS", rules.DEFAULT_FURTHER_MARKERS))
