"""A form that breaks a donor-side constraint explains it in plain words, not by the constraint's name."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from donors.models import Deferral, DonationSlot

pytestmark = pytest.mark.django_db


def _messages(instance) -> list[str]:
    with pytest.raises(ValidationError) as refused:
        instance.validate_constraints()
    return refused.value.messages


def test_a_deferral_ending_before_it_starts(hospital_a):
    deferral = Deferral(reason="Travel", starts_on=date(2026, 12, 8), ends_on=date(2026, 12, 1), hospital=hospital_a)
    assert _messages(deferral) == ["A deferral must end after the day it starts."]


def test_a_slot_ending_before_it_starts(hospital_a):
    start = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    slot = DonationSlot(hospital=hospital_a, starts_at=start, ends_at=start - timedelta(hours=1), capacity=4)
    assert _messages(slot) == ["A slot must end after it starts."]
