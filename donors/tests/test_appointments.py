"""Slots and appointments: capacity, double booking, eligibility on the slot's date, state transitions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from donors import services
from donors.models import AppointmentStatus, Donation, DonationSlot, DonationStatus
from donors.tests.conftest import at, make_donor
from healthsync.errors import Conflict, DomainError


def test_slot_capacity_refuses_overbooking(slot):
    for n in range(2):
        services.appointment_book(donor=make_donor(f"d{n}@donor.example"), slot=slot)
    with pytest.raises(Conflict) as refused:
        services.appointment_book(donor=make_donor("late@donor.example"), slot=slot)
    assert refused.value.code == "slot_full"


def test_a_cancelled_place_frees_up(slot, erin, frank):
    third = make_donor("third@donor.example")
    first = services.appointment_book(donor=erin, slot=slot)
    services.appointment_book(donor=frank, slot=slot)
    services.appointment_cancel(appointment=first, by=erin.user)
    assert services.appointment_book(donor=third, slot=slot).status == AppointmentStatus.BOOKED


def test_double_booking_is_refused(slot, hospital_a, bob, erin):
    other = services.slot_create(hospital=hospital_a, starts_at=at(3), ends_at=at(3, 12), capacity=5, by=bob)
    services.appointment_book(donor=erin, slot=slot)
    for target in (slot, other):
        with pytest.raises(Conflict) as refused:
            services.appointment_book(donor=erin, slot=target)
        assert refused.value.code == "already_booked"


def test_a_booking_whose_slot_has_ended_does_not_block_a_new_one(slot, hospital_a, bob, erin):
    missed = services.appointment_book(donor=erin, slot=slot)
    DonationSlot.objects.filter(pk=slot.pk).update(
        starts_at=at(-2), ends_at=at(-2, 12)
    )  # the slot passed; nobody checked her in
    later = services.slot_create(hospital=hospital_a, starts_at=at(3), ends_at=at(3, 12), capacity=5, by=bob)
    assert services.appointment_book(donor=erin, slot=later).status == AppointmentStatus.BOOKED
    missed.refresh_from_db()
    assert missed.status == AppointmentStatus.NO_SHOW and missed.changed_by is None


@pytest.mark.parametrize("days_after_donation, eligible", [(55, False), (56, True), (57, True)])
def test_booking_checks_eligibility_on_the_slot_date(hospital_a, bob, erin, days_after_donation, eligible):
    Donation.objects.create(
        donor=erin,
        hospital=hospital_a,
        visit_date=timezone.localdate() - timedelta(days=50),
        status=DonationStatus.COLLECTED,
    )
    target = services.slot_create(
        hospital=hospital_a,
        starts_at=at(days_after_donation - 50),
        ends_at=at(days_after_donation - 50, 12),
        capacity=1,
        by=bob,
    )
    if eligible:
        assert services.appointment_book(donor=erin, slot=target).status == AppointmentStatus.BOOKED
    else:
        with pytest.raises(Conflict) as refused:
            services.appointment_book(donor=erin, slot=target)
        assert refused.value.details["next_eligible_date"] == (timezone.localdate() + timedelta(days=6)).isoformat()


def test_booking_checks_the_slot_donation_type(hospital_a, bob, erin):
    Donation.objects.create(
        donor=erin,
        hospital=hospital_a,
        visit_date=timezone.localdate() - timedelta(days=10),
        donation_type="platelets",
        status=DonationStatus.COLLECTED,
    )
    platelets = services.slot_create(
        hospital=hospital_a, starts_at=at(1), ends_at=at(1, 12), capacity=1, by=bob, donation_type="platelets"
    )
    assert services.appointment_book(donor=erin, slot=platelets)


def test_past_slots_cannot_be_booked_or_created(slot, erin, hospital_a, bob):
    with pytest.raises(DomainError):
        services.slot_create(hospital=hospital_a, starts_at=at(-1), ends_at=at(-1, 12), capacity=1, by=bob)
    slot.starts_at = timezone.now() - timedelta(minutes=1)
    slot.save()
    with pytest.raises(Conflict):
        services.appointment_book(donor=erin, slot=slot)


@pytest.mark.parametrize(
    "starts, ends, capacity",
    [(at(1, 12), at(1, 10), 1), (at(1), at(2, 10), 1), (at(1), at(1, 12), 0), (at(1), at(1, 12), 501)],
)
def test_slot_validation(hospital_a, bob, starts, ends, capacity):
    with pytest.raises(DomainError):
        services.slot_create(hospital=hospital_a, starts_at=starts, ends_at=ends, capacity=capacity, by=bob)


def test_capacity_cannot_drop_below_bookings_and_used_slots_cannot_be_deleted(slot, erin, frank):
    services.appointment_book(donor=erin, slot=slot)
    services.appointment_book(donor=frank, slot=slot)
    with pytest.raises(Conflict):
        services.slot_update(slot=slot, capacity=1)
    assert services.slot_update(slot=slot, capacity=3).capacity == 3
    with pytest.raises(Conflict):
        services.slot_delete(slot=slot)


@pytest.mark.parametrize(
    "first, second",
    [
        ("cancel", "cancel"),
        ("cancel", "check_in"),
        ("cancel", "no_show"),
        ("check_in", "cancel"),
        ("check_in", "no_show"),
        ("check_in", "check_in"),
        ("no_show", "check_in"),
        ("no_show", "cancel"),
    ],
)
def test_appointment_state_transitions(slot, erin, bob, first, second):
    appointment = services.appointment_book(donor=erin, slot=slot)
    slot.starts_at = timezone.now() - timedelta(minutes=5)
    slot.save()
    getattr(services, f"appointment_{first}")(appointment=appointment, by=bob)
    with pytest.raises(Conflict) as refused:
        getattr(services, f"appointment_{second}")(appointment=appointment, by=bob)
    assert refused.value.code == "appointment_state"


def test_check_in_opens_a_visit_of_the_slot_type(slot, erin, bob):
    appointment = services.appointment_book(donor=erin, slot=slot)
    donation = services.appointment_check_in(appointment=appointment, by=bob)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ATTENDED and appointment.changed_by == bob
    assert donation.appointment == appointment and donation.status == DonationStatus.AWAITING_SCREENING
    assert donation.hospital == slot.hospital and donation.donation_type == slot.donation_type


def test_no_show_only_once_the_slot_started(slot, erin, bob):
    appointment = services.appointment_book(donor=erin, slot=slot)
    with pytest.raises(Conflict) as refused:
        services.appointment_no_show(appointment=appointment, by=bob)
    assert refused.value.code == "slot_not_started"
    slot.starts_at = timezone.now() - timedelta(minutes=1)
    slot.save()
    assert services.appointment_no_show(appointment=appointment, by=bob).status == AppointmentStatus.NO_SHOW
    # A no-show still holds the place it took, and frees the donor to book again.
    later = services.slot_create(hospital=slot.hospital, starts_at=at(2), ends_at=at(2, 12), capacity=1, by=bob)
    assert services.appointment_book(donor=erin, slot=later)


BASE = "/api/blood-bank"


def test_appointments_through_http(client, api, slot, erin, bob, carol):
    from donors.tests.test_seed_donor_api import login

    auth = login(client, erin.user.email)
    free = client.get(f"{BASE}/slots").json()
    assert [(s["id"], s["places_free"]) for s in free["results"]] == [(slot.pk, 2)]
    booked = client.post(f"{BASE}/donor/appointments", {"slot": slot.pk}, content_type="application/json", **auth)
    assert booked.status_code == 201, booked.content
    assert client.get(f"{BASE}/slots").json()["results"][0]["places_free"] == 1
    assert (
        client.post(
            f"{BASE}/donor/appointments", {"slot": slot.pk}, content_type="application/json", **auth
        ).status_code
        == 409
    )
    assert (
        client.post(f"{BASE}/donor/appointments", {"slot": 99999}, content_type="application/json", **auth).status_code
        == 404
    )
    assert client.post(f"{BASE}/donor/appointments", {}, content_type="application/json", **auth).status_code == 400
    mine = client.get(f"{BASE}/donor/appointments", **auth).json()
    assert [a["status"] for a in mine] == ["booked"]

    # Staff at another hospital cannot see or check in this appointment.
    appointment_id = booked.json()["id"]
    assert api(carol).post(f"{BASE}/staff/appointments/{appointment_id}/check-in").status_code == 404
    listed = api(bob).get(f"{BASE}/staff/appointments/?status=booked").json()
    assert [a["donor_name"] for a in listed["results"]] == ["Erin"]

    assert client.delete(f"{BASE}/donor/appointments/{appointment_id}", **auth).status_code == 204
    assert client.delete(f"{BASE}/donor/appointments/{appointment_id}", **auth).status_code == 409
    assert client.get(f"{BASE}/slots").json()["results"][0]["places_free"] == 2


def test_staff_slot_crud_is_scoped_to_their_hospital(api, bob, carol, hospital_a):
    staff = api(bob)
    created = staff.post(
        f"{BASE}/staff/slots/",
        {"starts_at": at(2).isoformat(), "ends_at": at(2, 13).isoformat(), "capacity": 4},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["hospital"] == hospital_a.pk and created.json()["places_free"] == 4
    slot_id = created.json()["id"]
    assert staff.patch(f"{BASE}/staff/slots/{slot_id}/", {"capacity": 6}, format="json").json()["capacity"] == 6
    assert staff.patch(f"{BASE}/staff/slots/{slot_id}/", {"capacity": 0}, format="json").status_code == 400
    other = api(carol)
    assert other.get(f"{BASE}/staff/slots/{slot_id}/").status_code == 404
    assert other.delete(f"{BASE}/staff/slots/{slot_id}/").status_code == 404
    assert other.get(f"{BASE}/staff/slots/").json()["count"] == 0
    assert staff.delete(f"{BASE}/staff/slots/{slot_id}/").status_code == 204
    bad = staff.post(
        f"{BASE}/staff/slots/",
        {"starts_at": at(2, 13).isoformat(), "ends_at": at(2).isoformat(), "capacity": 4},
        format="json",
    )
    assert bad.status_code == 400 and "ends_at" in bad.json()["error"]["fields"]


def test_staff_endpoints_refuse_accounts_without_a_hospital(api, dave):
    assert api(dave).get(f"{BASE}/staff/slots/").status_code == 403
