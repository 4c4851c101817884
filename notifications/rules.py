"""Who hears what, as plain functions (no database)."""

from datetime import datetime, time, timedelta

from bloodbank.rules import level_shortness

URGENT = 4
EMERGENCY = 5
DONOR_URGENT_ALERT_INTERVAL = timedelta(hours=24)
URGENT_ALERT_WINDOW = timedelta(hours=1)  # HEALTHSYNC_URGENT_ALERTS_PER_HOUR counts within it


def shortage_step(*, alerted_level: str, level: str) -> tuple[str, bool, bool]:
    """From the level last alerted and the new level: (level now alerted, raise an alert?, stock recovered?).

    One alert per hospital, group, component and level until stock recovers:
    an alert when the level is worse than any alerted since the last recovery
    (low, then critical); none while it stays there or improves to low; a
    return to adequate ends the episode, so the next shortage alerts again.
    """
    if level_shortness(level) == 0:
        return "", False, bool(alerted_level)
    if level_shortness(level) > level_shortness(alerted_level):
        return level, True, False
    return alerted_level, False, False


def urgent_alert_reach(*, hospital_verified: bool, network_alerts_last_hour: int, limit_per_hour: int) -> str:
    """How far an urgent request's alert goes: ``"network"`` (network staff with compatible stock,
    platform administrators, eligible donors) or ``"own_staff"`` (the hospital's own staff only).

    Only verified hospitals reach beyond their own staff, and at most ``limit_per_hour`` of a
    hospital's urgent requests an hour do (``HEALTHSYNC_URGENT_ALERTS_PER_HOUR``; 0: none), so one
    hospital cannot flood the network, the platform administrators' mailboxes and the donors."""
    if hospital_verified and network_alerts_last_hour < limit_per_hour:
        return "network"
    return "own_staff"


def in_quiet_hours(*, now_local: time, start: time | None, end: time | None) -> bool:
    """Whether ``now_local`` falls in the quiet hours [start, end), which may wrap past midnight."""
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= now_local < end
    return now_local >= start or now_local < end


def donor_may_be_called(
    *,
    urgency: int,
    now: datetime,
    last_urgent_alert_at: datetime | None,
    quiet_start: time | None,
    quiet_end: time | None,
    now_local: time,
) -> bool:
    """An urgent-need call to one eligible, opted-in donor: at most one per 24 hours; quiet hours
    respected, except in an emergency (urgency 5), which overrides quiet hours but not the daily limit."""
    if urgency < URGENT:
        return False
    if last_urgent_alert_at is not None and now - last_urgent_alert_at < DONOR_URGENT_ALERT_INTERVAL:
        return False
    if urgency < EMERGENCY and in_quiet_hours(now_local=now_local, start=quiet_start, end=quiet_end):
        return False
    return True


def delivery_channels(*, kind: str, severity: str, is_donor: bool, email: bool = True, sms: bool = False) -> list[str]:
    """Which outside channels carry an alert besides the inbox and the socket.

    Donors: urgent-need calls and appointment messages, by their preferences.
    Staff: critical alerts by email.
    """
    channels = []
    if is_donor and kind in {"urgent_request", "appointment"}:
        if email:
            channels.append("email")
        if sms and kind == "urgent_request":
            channels.append("sms")
    elif not is_donor and severity == "critical":
        channels.append("email")
    return channels
