"""Each figure against hand-computed values on a small fixture; CSV parses back; the PDF shows a title and a table."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from bloodbank import services as bloodbank
from bloodbank.models import BloodRequest, UnitEvent
from donors.models import Appointment, Deferral, Donation, DonationSlot, DonorProfile
from notifications.models import Alert, Notification
from reports import selectors
from reports.selectors import Period

pytestmark = pytest.mark.django_db
PERIOD = Period(start=date(2026, 1, 1), end=date(2026, 3, 1))  # 59 days


def at(day: str, hour: int = 12) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(f"{day}T{hour:02d}:00"))


def _unit(hospital, group, received: str, by):
    unit = bloodbank.unit_create(
        hospital=hospital,
        component="red_cells",
        blood_group=group,
        by=by,
        status="available",
        collected_at=at(received),
        expires_at=timezone.now() + timedelta(days=10),
    )
    UnitEvent.objects.filter(unit=unit).update(at=at(received))
    return unit


def _move(unit, to_status, day, by, reason=""):
    bloodbank.moves._move(unit, to_status=to_status, by=by, reason=reason or "fixture")
    UnitEvent.objects.filter(unit=unit, to_status=to_status).update(at=at(day))


@pytest.fixture
def blood_fixture(hospital_a, hospital_b, bob):
    a_pos = [_unit(hospital_a, "A+", "2026-01-10", bob) for _ in range(4)]
    o_neg = [_unit(hospital_a, "O-", "2026-02-05", bob) for _ in range(2)]
    _unit(hospital_b, "B+", "2026-01-10", bob)  # another hospital: not counted
    _unit(hospital_a, "A+", "2026-03-01", bob)  # after the period: collected not counted, but available now
    _move(a_pos[0], "reserved", "2026-01-15", bob)
    _move(a_pos[0], "issued", "2026-01-15", bob)
    for step in ("reserved", "issued", "available", "reserved", "issued"):  # issued, returned unused, issued again
        _move(a_pos[2], step, "2026-01-20", bob)
    _move(a_pos[1], "discarded", "2026-02-01", bob, reason="Leak")
    _move(o_neg[0], "expired", "2026-02-20", bob)


def test_blood_utilisation(blood_fixture, hospital_a):
    from healthsync.models import Hospital

    figures = selectors.blood_utilisation(hospitals=Hospital.objects.filter(pk=hospital_a.pk), period=PERIOD)
    assert figures["rows"] == [
        {
            "month": "2026-01",
            "blood_group": "A+",
            "component": "red_cells",
            "collected": 4,
            "issued": 2,
            "transfused": 0,
            "expired": 0,
            "discarded": 0,
        },
        {
            "month": "2026-02",
            "blood_group": "A+",
            "component": "red_cells",
            "collected": 0,
            "issued": 0,
            "transfused": 0,
            "expired": 0,
            "discarded": 1,
        },
        {
            "month": "2026-02",
            "blood_group": "O-",
            "component": "red_cells",
            "collected": 2,
            "issued": 0,
            "transfused": 0,
            "expired": 1,
            "discarded": 0,
        },
    ]
    assert figures["totals"] == {"collected": 6, "issued": 2, "transfused": 0, "expired": 1, "discarded": 1}
    assert figures["wastage_rate"] == round(2 / 6, 4)
    a_pos = next(row for row in figures["stock_days"] if row["blood_group"] == "A+")
    # 2 A+ available now (4 - 2 issued - discarded + 1 received after the period); 2 units issued over 59 days.
    assert a_pos == {
        "blood_group": "A+",
        "available_units": 2,
        "issued_per_day": round(2 / 59, 3),
        "days_of_stock": round(2 / (2 / 59), 1),
    }
    o_neg = next(row for row in figures["stock_days"] if row["blood_group"] == "O-")
    assert o_neg["available_units"] == 1 and o_neg["days_of_stock"] is None


def test_requests_activity(hospital_a, bob):
    def request(urgency, *, hours=None, cancelled=False):
        made = bloodbank.request_create(hospital=hospital_a, blood_group="A+", units=1, urgency=urgency, by=bob)
        status = "cancelled" if cancelled else ("fulfilled" if hours is not None else "pending")
        BloodRequest.objects.filter(pk=made.pk).update(
            created_at=at("2026-01-20", 8),
            status=status,
            fulfilled_at=at("2026-01-20", 8 + hours) if hours is not None else None,
        )

    request(4, hours=2)
    request(2, hours=6)
    request(5)
    request(3, cancelled=True)
    from healthsync.models import Hospital

    figures = selectors.requests_activity(hospitals=Hospital.objects.filter(pk=hospital_a.pk), period=PERIOD)
    assert figures["overall"] == {"requests": 3, "fulfilled": 2, "rate": round(2 / 3, 4)}
    assert figures["urgent"] == {"requests": 2, "fulfilled": 1, "rate": 0.5}
    assert figures["cancelled"] == 1
    assert figures["hours_to_fulfil_median"] == 4.0
    assert figures["hours_to_fulfil_p90"] == 5.6


def test_donors_activity(hospital_a, bob):
    from conftest import make_user
    from healthsync.models import Hospital

    def donor(email, created):
        user = make_user(email, is_donor=True)
        profile = DonorProfile.objects.create(
            user=user, blood_group="O+", date_of_birth=date(1980, 1, 1), region=hospital_a.region
        )
        DonorProfile.objects.filter(pk=profile.pk).update(created_at=at(created))
        return profile

    active, lapsed = donor("act@d.example", "2026-01-03"), donor("lap@d.example", "2023-05-01")
    Donation.objects.create(donor=active, hospital=hospital_a, visit_date=date(2026, 1, 20), status="collected")
    Donation.objects.create(donor=active, hospital=hospital_a, visit_date=date(2026, 2, 2), status="deferred")
    Donation.objects.create(donor=lapsed, hospital=hospital_a, visit_date=date(2024, 6, 1), status="collected")
    for reason in ["Low haemoglobin", "Low haemoglobin", "Travel"]:
        Deferral.objects.create(
            donor=active,
            reason=reason,
            starts_on=date(2026, 2, 2),
            ends_on=date(2026, 3, 2),
            hospital=hospital_a,
            set_by=bob,
        )
    slot = DonationSlot.objects.create(
        hospital=hospital_a, starts_at=at("2026-01-06", 9), ends_at=at("2026-01-06", 12), capacity=10
    )
    statuses = ["attended", "attended", "attended", "no_show"]
    for n, status in enumerate(statuses):
        profile = active if n == 0 else donor(f"d{n}@d.example", "2025-01-01")
        appointment = Appointment.objects.create(slot=slot, donor=profile, status=status)
        Appointment.objects.filter(pk=appointment.pk).update(
            booked_at=at("2026-01-06", 8) if n == 0 else at("2025-12-01")
        )
    call = Alert.objects.create(
        kind="urgent_request", title="Call", body="b", severity="critical", hospital=hospital_a, event_key="call-1"
    )
    Alert.objects.filter(pk=call.pk).update(created=at("2026-01-05", 10))
    Notification.objects.create(alert=call, recipient=active.user)
    Notification.objects.create(alert=call, recipient=lapsed.user)

    figures = selectors.donors_activity(hospitals=Hospital.objects.filter(pk=hospital_a.pk), period=PERIOD)
    assert figures["active_donors"] == 1 and figures["lapsed_donors"] == 1
    assert figures["new_donors"] == 1
    assert figures["donations_per_month"] == [{"month": "2026-01", "donations": 1}]
    assert figures["deferral_reasons"] == [{"reason": "Low haemoglobin", "count": 2}, {"reason": "Travel", "count": 1}]
    assert (figures["appointments_attended"], figures["appointments_no_show"], figures["no_show_rate"]) == (3, 1, 0.25)
    assert (figures["urgent_alerts_sent"], figures["bookings_within_72h"], figures["alert_response_rate"]) == (
        2,
        1,
        0.5,
    )


def test_csv_and_pdf_downloads(api, bob, blood_fixture):
    client = api(bob)
    response = client.get(
        "/api/reports/blood-utilisation", {"start": "2026-01-01", "end": "2026-02-28", "format": "csv"}
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0] == {
        "month": "2026-01",
        "blood_group": "A+",
        "component": "red_cells",
        "collected": "4",
        "issued": "2",
        "transfused": "0",
        "expired": "0",
        "discarded": "0",
    }
    assert len(rows) == 3

    pdf = client.get("/api/reports/blood-utilisation", {"start": "2026-01-01", "end": "2026-02-28", "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "HealthSync: Blood utilisation" in text
    assert "2026-01-01 to 2026-02-28" in text
    assert "collected" in text and "discarded" in text and "2026-02" in text

    json_report = client.get("/api/reports/blood-utilisation", {"start": "2026-01-01", "end": "2026-02-28"}).json()
    assert json_report["figures"]["totals"]["collected"] == 6


def test_units_export_streams_every_unit_of_the_users_hospitals(api, bob, blood_fixture):
    response = api(bob).get("/api/reports/units.csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["din", "component", "blood_group"]
    assert len(rows) == 1 + 7  # Alpha's 7 units, not Beta's


@pytest.mark.parametrize(
    "query, field",
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "start"),
        ({"hospital": "x"}, "hospital"),
    ],
)
def test_bad_periods_are_400(api, bob, query, field):
    response = api(bob).get("/api/reports/requests", query)
    assert response.status_code == 400 and field in response.json()["error"]["fields"]


def test_reports_are_scoped_and_refused_to_donors(api, bob, dave, hospital_b):
    assert api(dave).get("/api/reports/requests").status_code == 403
    assert api(bob).get("/api/reports/requests", {"hospital": hospital_b.pk}).json()["hospitals"] == []
    assert api(bob).get("/api/reports/nothing").status_code == 400


def test_reports_page_in_the_console(bob, blood_fixture):
    from django.test import Client

    from conftest import PASSWORD

    client = Client()
    client.login(email=bob.email, password=PASSWORD)
    page = client.get("/admin/reports/blood-utilisation/", {"start": "2026-01-01", "end": "2026-02-28"})
    assert page.status_code == 200, page.content[:500]
    assert b"report-chart" in page.content and b"2026-02" in page.content
    download = client.get(
        "/admin/reports/blood-utilisation/", {"start": "2026-01-01", "end": "2026-02-28", "format": "csv"}
    )
    assert download["Content-Type"].startswith("text/csv")


def test_diagnostics_against_hand_computed_values(hospital_a, bob):
    import uuid

    from healthsync.models import Hospital
    from imaging.models import ImageAnalysis, MLModel

    model = MLModel.objects.get(name="pneumoniamnist-basic_cnn", version=1)

    def analysis(predicted, confirmation="", truth="", status="done", seconds=2):
        made = ImageAnalysis.objects.create(
            hospital=hospital_a,
            requested_by=bob,
            batch=uuid.uuid4(),
            dataset="pneumoniamnist",
            model=model,
            image="x.png",
            image_kind="png",
            status=status,
            predicted_class=predicted,
            confirmation=confirmation,
            true_finding=truth,
        )
        ImageAnalysis.objects.filter(pk=made.pk).update(
            submitted_at=at("2026-01-10", 9), finished_at=at("2026-01-10", 9) + timedelta(seconds=seconds)
        )

    analysis("pneumonia", "agrees", seconds=1)  # TP
    analysis("pneumonia", "disagrees", "normal", seconds=2)  # FP
    analysis("normal", "agrees", seconds=3)  # TN
    analysis("normal", "disagrees", "pneumonia", seconds=4)  # FN
    analysis("pneumonia", "uncertain", seconds=5)  # excluded from agreement
    analysis("", status="failed")
    figures = selectors.diagnostics(hospitals=Hospital.objects.filter(pk=hospital_a.pk), period=PERIOD)
    done = next(row for row in figures["rows"] if row["status"] == "done")
    assert (done["analyses"], done["positive"], done["positive_share"], done["confirmed"], done["agreed"]) == (
        5,
        3,
        0.6,
        5,
        2,
    )
    assert next(row for row in figures["rows"] if row["status"] == "failed")["analyses"] == 1
    assert figures["per_model"] == [
        {
            "model": "pneumoniamnist-basic_cnn",
            "version": 1,
            "confirmed": 4,
            "accuracy": 0.5,
            "sensitivity": 0.5,
            "specificity": 0.5,
        }
    ]
    assert figures["turnaround_seconds_median"] == 3.0
    assert figures["turnaround_seconds_p90"] == 4.6


def test_markup_in_a_hospital_name_is_printed_not_obeyed(api, bob, blood_fixture, hospital_a):
    """ReportLab reads a Paragraph's text as markup: a name with <img> or <a> would embed a local file
    or a link, and broken markup was a 500."""
    hospital_a.name = (
        'Alpha <img src="/etc/hostname" width="9" height="9"/><a href="https://evil.example">x</a> <b>General'
    )
    hospital_a.save(update_fields=["name"])
    pdf = api(bob).get("/api/reports/blood-utilisation", {"start": "2026-01-01", "end": "2026-02-28", "format": "pdf"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert '<img src="/etc/hostname"' in text and "<b>General" in text
    assert not any("/Annots" in page for page in reader.pages)  # no link
    assert all(
        "/XObject" not in (page.get("/Resources") or {})
        or not any(str(obj.get_object().get("/Subtype")) == "/Image" for obj in page["/Resources"]["/XObject"].values())
        for page in reader.pages
    )
