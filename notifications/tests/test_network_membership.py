"""The network is for verified hospitals (security test, issue #26 item 6): a self-registered hospital
sees no other hospital's stock and its alerts reach its own staff only; urgent alerts that reach the
network are limited per hospital and hour (HEALTHSYNC_URGENT_ALERTS_PER_HOUR)."""

import pytest
from django.core import mail

from bloodbank import services as bloodbank_services
from conftest import PASSWORD, jwt_client, make_region
from healthsync import services as core_services
from healthsync.models import User
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def newcomer(settings):
    """A hospital that registered itself and is not verified yet, and its administrator."""
    settings.HEALTHSYNC_AUTO_VERIFY_HOSPITALS = False
    hospital = core_services.hospital_register(
        name="Newcomer Clinic", email="admin@newcomer.example", password=PASSWORD, region=make_region("North")
    )
    assert not hospital.is_verified
    return hospital, User.objects.get(email="admin@newcomer.example")


def titles(user, kind):
    return [
        n.alert.title
        for n in Notification.objects.filter(recipient=user, alert__kind=kind)
        .select_related("alert")
        .order_by("alert_id")
    ]


def test_an_unverified_hospital_sees_nothing_of_the_network(newcomer, root, hospital_b, stock):
    hospital, admin = newcomer
    stock(hospital_b, "O-", 6)
    client = jwt_client(admin)
    created = client.post(
        "/api/blood-bank/hospital/request", {"blood_type": "O-", "units": 2, "urgency_level": 3}, format="json"
    )
    assert created.status_code == 201
    request_id = created.json()["request_id"]

    for path in (f"/api/blood-bank/requests/{request_id}/network-stock", "/api/blood-bank/inventory/network"):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert refused.json()["error"]["code"] == "hospital_not_verified"

    core_services.hospital_verify(hospital=hospital, by=root)  # admitted: the network opens
    stock_rows = client.get(f"/api/blood-bank/requests/{request_id}/network-stock").json()
    assert [(row["hospital"], row["compatible_units"]) for row in stock_rows] == [("Beta Infirmary", 6)]
    network = client.get("/api/blood-bank/inventory/network").json()
    assert next(row for row in network["inventory"] if row["blood_type"] == "O-")["units"] == 6


def test_an_unverified_hospitals_emergency_reaches_its_own_staff_only(
    committed, newcomer, root, carol, hospital_b, stock, donor
):
    hospital, admin = newcomer
    stock(hospital_b, "O-", 6)
    olga = donor("olga@donor.example", "O-", "North")
    mail.outbox.clear()
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital, blood_group="O-", units=2, urgency=5, by=admin)
    )

    assert titles(admin, "urgent_request") == ["Emergency request: 2 unit(s) of O- red cells at Newcomer Clinic"]
    assert (
        titles(root, "urgent_request") == []
        and titles(carol, "urgent_request") == []
        and titles(olga.user, "urgent_request") == []
    )
    assert [message.to for message in mail.outbox] == [[admin.email]]  # no email to the platform administrator


def test_an_unverified_hospitals_shortage_does_not_reach_platform_administrators(committed, newcomer, root, stock):
    hospital, admin = newcomer
    committed(lambda: stock(hospital, "A+", 1))  # critical at the newcomer
    assert titles(admin, "shortage") == ["Critical stock: A+ red cells at Newcomer Clinic"]
    assert titles(root, "shortage") == []


def test_urgent_alerts_reach_the_network_a_limited_number_of_times_an_hour(
    committed, settings, bob, carol, root, hospital_a, hospital_b, stock, donor
):
    settings.HEALTHSYNC_URGENT_ALERTS_PER_HOUR = 2
    stock(hospital_b, "O-", 6)
    early = donor("early@donor.example", "O-", "North")
    for _ in range(2):
        committed(
            lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=1, urgency=5, by=bob)
        )
    late = donor("late@donor.example", "O-", "North")  # not called yet today: the third request would call them
    committed(
        lambda: bloodbank_services.request_create(hospital=hospital_a, blood_group="O-", units=1, urgency=5, by=bob)
    )

    assert len(titles(bob, "urgent_request")) == 3  # the hospital's own staff hear every one
    assert len(titles(root, "urgent_request")) == 2 and len(titles(carol, "urgent_request")) == 2
    assert len(titles(early.user, "urgent_request")) == 1 and titles(late.user, "urgent_request") == []
    last = (
        Notification.objects.filter(recipient=bob, alert__kind="urgent_request")
        .select_related("alert")
        .latest("alert_id")
        .alert
    )
    assert "Not sent to the network" in last.body and last.groups == [f"hospital.{hospital_a.pk}"]
