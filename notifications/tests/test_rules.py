"""Who hears what: the plain rules, table-driven."""

from datetime import UTC, datetime, time, timedelta

import pytest

from notifications import rules

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "alerted, level, expected",
    [
        ("", "adequate", ("", False, False)),
        ("", "low", ("low", True, False)),
        ("", "critical", ("critical", True, False)),
        ("low", "low", ("low", False, False)),
        ("low", "critical", ("critical", True, False)),
        ("critical", "critical", ("critical", False, False)),
        ("critical", "low", ("critical", False, False)),
        ("critical", "adequate", ("", False, True)),
        ("low", "adequate", ("", False, True)),
    ],
)
def test_shortage_step(alerted, level, expected):
    assert rules.shortage_step(alerted_level=alerted, level=level) == expected


@pytest.mark.parametrize(
    "now, start, end, quiet",
    [
        (time(12), None, None, False),
        (time(12), time(22), time(22), False),
        (time(21, 59), time(22), time(7), False),
        (time(22), time(22), time(7), True),
        (time(3), time(22), time(7), True),
        (time(6, 59), time(22), time(7), True),
        (time(7), time(22), time(7), False),
        (time(13), time(13), time(14), True),
        (time(14), time(13), time(14), False),
    ],
)
def test_quiet_hours_wrap_past_midnight(now, start, end, quiet):
    assert rules.in_quiet_hours(now_local=now, start=start, end=end) is quiet


@pytest.mark.parametrize(
    "urgency, last, in_quiet, expected",
    [
        (3, None, False, False),  # not urgent
        (4, None, False, True),
        (4, NOW - timedelta(hours=23, minutes=59), False, False),  # within 24 h
        (4, NOW - timedelta(hours=24), False, True),  # exactly a day later
        (4, None, True, False),  # quiet hours respected
        (5, None, True, True),  # urgency 5 overrides quiet hours
        (5, NOW - timedelta(hours=1), True, False),  # but not the daily limit
    ],
)
def test_donor_may_be_called(urgency, last, in_quiet, expected):
    quiet = (time(0), time(23, 59)) if in_quiet else (None, None)
    assert (
        rules.donor_may_be_called(
            urgency=urgency,
            now=NOW,
            last_urgent_alert_at=last,
            quiet_start=quiet[0],
            quiet_end=quiet[1],
            now_local=time(12),
        )
        is expected
    )


@pytest.mark.parametrize(
    "kind, severity, is_donor, email, sms, channels",
    [
        ("urgent_request", "critical", True, True, True, ["email", "sms"]),
        ("urgent_request", "critical", True, False, True, ["sms"]),
        ("appointment", "info", True, True, True, ["email"]),
        ("shortage", "critical", True, True, True, []),
        ("shortage", "critical", False, True, False, ["email"]),
        ("shortage", "warning", False, True, False, []),
        ("expiring", "info", False, True, False, []),
    ],
)
def test_delivery_channels(kind, severity, is_donor, email, sms, channels):
    assert rules.delivery_channels(kind=kind, severity=severity, is_donor=is_donor, email=email, sms=sms) == channels
