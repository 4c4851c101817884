from datetime import date

import pytest

from bloodbank import services as bloodbank_services
from bloodbank.models import Component, UnitStatus
from conftest import PASSWORD
from donors import services as donor_services


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block and then its on-commit callbacks (events, then the inline tasks they enqueue)."""

    def run(action):
        with django_capture_on_commit_callbacks(execute=True):
            result = action()
        return result

    return run


@pytest.fixture
def stock(bob):
    def add(hospital, blood_group, n=1, *, component=Component.RED_CELLS):
        return [
            bloodbank_services.unit_create(
                hospital=hospital, component=component, blood_group=blood_group, by=None, status=UnitStatus.AVAILABLE
            )
            for _ in range(n)
        ]

    return add


@pytest.fixture
def donor():
    """``donor(email, group, region, **profile)``: an adult donor who opted in to emergency calls."""

    def make(email, blood_group="O-", region="North", *, opted_in=True, **profile):
        profile_obj = donor_services.donor_register(
            name=email.split("@")[0].title(),
            email=email,
            password=PASSWORD,
            blood_group=blood_group,
            date_of_birth=date(1985, 3, 3),
            address="1 Test Street",
            contact_number="+44 7700 900001",
            sex="male",
            weight_kg=75,
            region=region,
        )
        profile_obj.available_for_emergencies = opted_in
        for name, value in profile.items():
            setattr(profile_obj, name, value)
        profile_obj.save()
        return profile_obj

    return make
