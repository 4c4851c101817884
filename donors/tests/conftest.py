"""Donor-side fixtures: donors of the seed API shape, slots at Alpha, and a visit walked through each step."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from conftest import PASSWORD
from donors import services
from donors.models import DonorProfile


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; these tests register and log in many donors.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_donor(
    email="erin@donor.example",
    *,
    blood_group="O-",
    sex="female",
    weight_kg=65,
    date_of_birth=date(1990, 5, 15),
    **extra,
) -> DonorProfile:
    return services.donor_register(
        name=email.split("@")[0].title(),
        email=email,
        password=PASSWORD,
        blood_group=blood_group,
        date_of_birth=date_of_birth,
        address="1 Test Street",
        contact_number="+44 7700 900000",
        sex=sex,
        weight_kg=weight_kg,
        **extra,
    )


@pytest.fixture
def erin(db):
    """A 36-year-old 65 kg O- woman with no history."""
    return make_donor()


@pytest.fixture
def frank(db):
    """A 45-year-old 80 kg A+ man with no history."""
    return make_donor("frank@donor.example", blood_group="A+", sex="male", weight_kg=80, date_of_birth=date(1981, 2, 1))


def at(days: int, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=days), time(hour)))


@pytest.fixture
def slot(hospital_a, bob):
    """Tomorrow 10:00-13:00 at Alpha, 2 places, whole blood."""
    return services.slot_create(hospital=hospital_a, starts_at=at(1), ends_at=at(1, 13), capacity=2, by=bob)


GOOD_SCREENING = dict(
    haemoglobin_g_dl=13.8,
    systolic_mmhg=120,
    diastolic_mmhg=80,
    pulse_bpm=70,
    temperature_c=36.6,
    questionnaire_passed=True,
    weight_kg=65,
)


@pytest.fixture
def visit(erin, hospital_a):
    """Erin walked in at Alpha today for whole blood."""
    return services.donation_register_walk_in(donor=erin, hospital=hospital_a)


@pytest.fixture
def collected(visit, bob):
    services.screening_record(donation=visit, by=bob, **GOOD_SCREENING)
    services.donation_collect(donation=visit, by=bob)
    visit.refresh_from_db()
    return visit
