"""The blood network in the operations console: network stock and asking for units, transfers in and
out with each side's steps, offering units from an urgent request's alert, and emergency release.
Refusals are form errors or messages (4xx for pages a person may not see), never a server error."""

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from bloodbank import services
from bloodbank.models import Allocation, BloodUnit, Transfer, TransferStatus, UnitStatus
from conftest import PASSWORD, console_logged_in_ago, make_user
from healthsync import services as core_services
from healthsync.errors import Conflict
from healthsync.models import Role
from notifications.models import Alert, Notification

pytestmark = pytest.mark.django_db

NETWORK = "/admin/bloodbank/network/"
ASK = "/admin/bloodbank/network/ask/"
TRANSFERS = "/admin/bloodbank/network/transfers/"


def _login(user) -> Client:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _step(client, transfer, step):
    return client.post(f"{TRANSFERS}{transfer.pk}/{step}/", follow=True)


def _transfer(holder, requester, group, units, *, by, request=None):
    return services.transfer_request(
        from_hospital=holder,
        to_hospital=requester,
        component="red_cells",
        blood_group=group,
        units_requested=units,
        request=request,
        by=by,
    )


@pytest.fixture
def unverified(db):
    """Staff of a hospital not yet admitted to the network."""
    hospital = core_services.hospital_create(name="Gamma Clinic", is_verified=False)
    return make_user("gina@gamma.example", hospital=hospital, role=Role.HOSPITAL_ADMIN)


# --- network stock and asking for units --------------------------------------------------------------


def test_network_page_lists_stock_by_group_and_component_with_ask_links_on_shortages(
    bob, hospital_a, hospital_b, stock
):
    stock(hospital_b, "O-", 3)
    stock(hospital_a, "A+", 9)
    client = _login(bob)
    page = client.get(NETWORK)
    assert page.status_code == 200
    rows = {(row["component"], row["blood_type"]): row for row in page.context["rows"]}
    assert rows[("red_cells", "O-")]["units"] == 3 and rows[("red_cells", "O-")]["own_units"] == 0
    assert rows[("red_cells", "O-")]["short"] and not rows[("red_cells", "A+")]["short"]
    assert b"component=red_cells&amp;blood_group=O-" in page.content
    assert rows[("red_cells", "A+")]["units"] == 9
    dashboard = client.get("/admin/")
    assert b"Blood network" in dashboard.content and NETWORK.encode() in dashboard.content


def test_ask_for_units_from_a_shortage_row_creates_a_transfer_request(bob, hospital_a, hospital_b, stock):
    stock(hospital_b, "O-", 3)
    client = _login(bob)
    form = client.get(ASK, {"component": "red_cells", "blood_group": "O-"})
    assert form.status_code == 200 and hospital_b.name.encode() in form.content
    done = client.post(
        f"{ASK}?component=red_cells&blood_group=O-", {"from_hospital": hospital_b.pk, "units_requested": 2}, follow=True
    )
    transfer = Transfer.objects.get()
    assert (transfer.from_hospital, transfer.to_hospital, transfer.blood_group, transfer.units_requested) == (
        hospital_b,
        hospital_a,
        "O-",
        2,
    )
    assert transfer.status == TransferStatus.REQUESTED and transfer.request is None
    assert done.redirect_chain[-1][0] == TRANSFERS
    assert f"Transfer {transfer.pk}: 2 unit(s) asked of {hospital_b.name}" in done.content.decode()


def test_ask_for_units_from_one_of_your_requests_links_the_transfer_to_it(bob, hospital_a, hospital_b, stock):
    stock(hospital_b, "A+", 3)
    blood_request = services.request_create(hospital=hospital_a, blood_group="A+", units=2, urgency=3, by=bob)
    client = _login(bob)
    assert f"{ASK}?request={blood_request.pk}".encode() in client.get(NETWORK).content
    assert client.get(ASK, {"request": blood_request.pk}).context["form"].initial["units_requested"] == 2
    client.post(f"{ASK}?request={blood_request.pk}", {"from_hospital": hospital_b.pk, "units_requested": 2})
    assert Transfer.objects.get().request == blood_request


def test_asking_for_units_refused_or_mistyped_is_a_form_error_or_404(bob, carol, hospital_a, hospital_b, stock):
    stock(hospital_b, "O-", 3)
    client = _login(bob)
    url = f"{ASK}?component=red_cells&blood_group=O-"
    for data in (
        {"from_hospital": hospital_b.pk, "units_requested": 0},
        {"from_hospital": hospital_a.pk, "units_requested": 1},
        {"from_hospital": "x", "units_requested": 1},
    ):
        answer = client.post(url, data)
        assert answer.status_code == 200 and answer.context["form"].errors
    # The holder's verification was withdrawn meanwhile: it is no longer among the hospitals to ask.
    hospital_b.is_verified = False
    hospital_b.save(update_fields=["is_verified"])
    refused = client.post(url, {"from_hospital": hospital_b.pk, "units_requested": 1})
    assert refused.status_code == 200 and b"No other verified hospital holds compatible units now." in refused.content
    assert not Transfer.objects.exists()
    theirs = services.request_create(hospital=hospital_b, blood_group="A+", units=1, urgency=3, by=carol)
    for query in (
        {"request": theirs.pk},
        {"request": "abc"},
        {"component": "blood", "blood_group": "O-"},
        {"component": "red_cells"},
        {"component": "red_cells", "blood_group": "O-", "hospital": hospital_b.pk},
    ):
        assert client.get(ASK, query).status_code == 404, query


def test_a_request_closed_meanwhile_is_no_longer_asked_for(bob, hospital_a, hospital_b, stock):
    stock(hospital_b, "A+", 2)
    blood_request = services.request_create(hospital=hospital_a, blood_group="A+", units=1, urgency=3, by=bob)
    client = _login(bob)
    url = f"{ASK}?request={blood_request.pk}"
    assert client.get(url).status_code == 200
    cancelled = services.request_cancel(request=blood_request, by=bob)
    assert client.post(url, {"from_hospital": hospital_b.pk, "units_requested": 1}).status_code == 404  # no longer open
    with pytest.raises(Conflict, match="cancelled: it needs no more units"):
        services.transfer_request(
            from_hospital=hospital_b,
            to_hospital=hospital_a,
            component="red_cells",
            blood_group="A+",
            units_requested=1,
            request=cancelled,
            by=bob,
        )


# --- transfers --------------------------------------------------------------------------------------


def test_transfer_from_request_to_receipt_each_side_its_own_steps(bob, carol, hospital_a, hospital_b, stock):
    stock(hospital_b, "A+", 3)
    transfer = _transfer(hospital_b, hospital_a, "A+", 2, by=bob)
    requester, holder = _login(bob), _login(carol)

    mine = requester.get(TRANSFERS)
    assert [t.pk for t in mine.context["sections"][0][2]] == [transfer.pk]  # incoming for Alpha
    assert mine.context["sections"][0][2][0].steps == [("cancel", "Cancel")]
    theirs = holder.get(TRANSFERS)
    assert theirs.context["sections"][1][2][0].steps == [
        ("approve", "Approve"),
        ("decline", "Decline"),
        ("cancel", "Cancel"),
    ]

    refused = _step(requester, transfer, "approve")
    assert refused.status_code == 200
    assert f"Only the holding hospital ({hospital_b.name}) may approve transfer {transfer.pk}." in _messages(refused)
    assert Transfer.objects.get(pk=transfer.pk).status == TransferStatus.REQUESTED

    assert f"Transfer {transfer.pk} approved: its units are reserved." in _messages(_step(holder, transfer, "approve"))
    assert "may dispatch" in " ".join(_messages(_step(requester, transfer, "dispatch")))
    _step(holder, transfer, "dispatch")
    assert "Only the requesting hospital" in " ".join(_messages(_step(holder, transfer, "receive")))
    assert "received into your stock" in " ".join(_messages(_step(requester, transfer, "receive")))
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.RECEIVED
    assert set(BloodUnit.objects.filter(hospital=hospital_a).values_list("status", flat=True)) == {UnitStatus.AVAILABLE}
    # A step it cannot take any more is a message, not an error page.
    again = _step(requester, transfer, "receive")
    assert again.status_code == 200 and "is received, not dispatched" in " ".join(_messages(again))


def test_decline_and_cancel_by_either_side_and_no_stock_is_a_message(bob, carol, hospital_a, hospital_b, stock):
    requester, holder = _login(bob), _login(carol)
    empty = _transfer(hospital_b, hospital_a, "AB-", 1, by=bob)
    assert "No compatible unit is available to send." in _messages(_step(holder, empty, "approve"))
    assert Transfer.objects.get(pk=empty.pk).status == TransferStatus.REQUESTED
    _step(holder, empty, "decline")
    assert Transfer.objects.get(pk=empty.pk).status == TransferStatus.DECLINED

    stock(hospital_b, "B+", 1)
    approved = _transfer(hospital_b, hospital_a, "B+", 1, by=bob)
    _step(holder, approved, "approve")
    assert "cancelled" in " ".join(_messages(_step(requester, approved, "cancel")))  # the requester calls it off
    assert Transfer.objects.get(pk=approved.pk).status == TransferStatus.CANCELLED
    assert BloodUnit.objects.get(hospital=hospital_b).status == UnitStatus.AVAILABLE


def test_transfer_steps_of_strangers_unknown_or_by_get_are_4xx(bob, carol, dave, hospital_a, hospital_b):
    transfer = _transfer(hospital_b, hospital_a, "A+", 1, by=bob)
    hospital_c = core_services.hospital_create(name="Delta Hospital", is_verified=True)
    stranger = make_user("sam@delta.example", hospital=hospital_c, role=Role.MEDICAL_STAFF)
    assert _login(stranger).post(f"{TRANSFERS}{transfer.pk}/approve/").status_code == 404
    assert transfer.pk not in [
        t.pk for _, _, rows, _ in _login(stranger).get(TRANSFERS).context["sections"] for t in rows
    ]
    assert _login(carol).post(f"{TRANSFERS}{transfer.pk}/launch/").status_code == 404
    assert _login(carol).get(f"{TRANSFERS}{transfer.pk}/approve/").status_code == 405
    assert _login(carol).post(f"{TRANSFERS}999999/approve/").status_code == 404


def test_transfer_admin_actions_follow_the_same_sides(bob, carol, hospital_a, hospital_b, stock):
    stock(hospital_b, "A+", 1)
    transfer = _transfer(hospital_b, hospital_a, "A+", 1, by=bob)
    changelist = "/admin/bloodbank/transfer/"
    refused = _login(bob).post(changelist, {"action": "approve", "_selected_action": [transfer.pk]}, follow=True)
    assert f"Only the holding hospital ({hospital_b.name}) may approve transfer {transfer.pk}." in _messages(refused)
    _login(carol).post(changelist, {"action": "decline", "_selected_action": [transfer.pk]})
    assert Transfer.objects.get(pk=transfer.pk).status == TransferStatus.DECLINED


# --- who may see the network pages ---------------------------------------------------------------------


def test_unverified_hospitals_get_403_and_donors_never_reach_the_pages(unverified, dave, bob, hospital_a):
    blood_request = services.request_create(hospital=hospital_a, blood_group="A+", units=1, urgency=4, by=bob)
    pages = [
        NETWORK,
        TRANSFERS,
        f"{ASK}?component=red_cells&blood_group=O-",
        f"/admin/bloodbank/network/requests/{blood_request.pk}/",
    ]
    client = _login(unverified)
    for url in pages:
        assert client.get(url).status_code == 403, url
    assert client.post(f"{TRANSFERS}1/approve/").status_code == 403
    assert b"Blood network" not in client.get("/admin/").content
    donor = make_user("donna@example.com", is_donor=True)
    for user in (donor, dave):
        for url in pages:
            answer = _login(user).get(url, follow=True)
            assert answer.status_code == 403 and b"Blood network" not in answer.content, url
            assert answer.redirect_chain and "/login/" in answer.redirect_chain[0][0]


# --- an urgent request seen from the network ---------------------------------------------------------


def test_urgent_alert_links_the_receiving_hospital_to_the_network_view(
    django_capture_on_commit_callbacks, bob, carol, hospital_a, hospital_b, stock
):
    stock(hospital_b, "O+", 4)
    with django_capture_on_commit_callbacks(execute=True):
        blood_request = services.request_create(
            hospital=hospital_a, blood_group="A+", units=2, urgency=4, by=bob, patient_reference="MRN-SECRET-77"
        )
    alert = Notification.objects.get(recipient=carol, alert__kind="urgent_request").alert
    assert alert.link == reverse("admin:bloodbank-network-request", args=[blood_request.pk])
    view = _login(carol).get(alert.link)
    assert view.status_code == 200
    text = view.content.decode()
    for shown in (hospital_a.name, "A+", "Red cells", "4 compatible unit(s)", "Offer units"):
        assert shown in text, shown
    assert "MRN-SECRET-77" not in text and bob.email not in text
    # The requesting hospital's own staff go on to the request's full page.
    assert _login(bob).get(alert.link).url == reverse("admin:bloodbank_bloodrequest_change", args=[blood_request.pk])
    assert Alert.objects.filter(link__contains="/bloodrequest/").count() == 0


def test_offer_units_from_the_network_view_reserves_them_for_the_requesting_hospital(
    bob, carol, hospital_a, hospital_b, stock
):
    stock(hospital_b, "A+", 3)
    blood_request = services.request_create(hospital=hospital_a, blood_group="A+", units=2, urgency=5, by=bob)
    url = reverse("admin:bloodbank-network-request", args=[blood_request.pk])
    client = _login(carol)
    too_many = client.post(url, {"from_hospital": hospital_b.pk, "units_requested": 3})
    assert too_many.status_code == 200 and too_many.context["form"].errors["units_requested"]
    done = client.post(url, {"from_hospital": hospital_b.pk, "units_requested": 2}, follow=True)
    transfer = Transfer.objects.get()
    assert (transfer.from_hospital, transfer.to_hospital, transfer.request, transfer.status) == (
        hospital_b,
        hospital_a,
        blood_request,
        TransferStatus.APPROVED,
    )
    assert transfer.units.count() == 2 and set(transfer.units.values_list("status", flat=True)) == {UnitStatus.RESERVED}
    assert f"Transfer {transfer.pk}: 2 unit(s) reserved for {hospital_a.name}" in " ".join(_messages(done))
    assert done.context["sections"][1][2][0].steps == [("dispatch", "Dispatch"), ("cancel", "Cancel")]


def test_offer_without_stock_is_a_form_error_and_leaves_nothing(bob, carol, hospital_a, hospital_b):
    blood_request = services.request_create(hospital=hospital_a, blood_group="AB-", units=1, urgency=4, by=bob)
    refused = _login(carol).post(
        reverse("admin:bloodbank-network-request", args=[blood_request.pk]),
        {"from_hospital": hospital_b.pk, "units_requested": 1},
    )
    assert refused.status_code == 200 and "No compatible unit is available to send." in str(
        refused.context["form"].non_field_errors()
    )
    assert not Transfer.objects.exists()


def test_routine_or_unknown_requests_are_not_in_the_network_view(bob, carol, hospital_a):
    routine = services.request_create(hospital=hospital_a, blood_group="A+", units=1, urgency=3, by=bob)
    client = _login(carol)
    assert client.get(reverse("admin:bloodbank-network-request", args=[routine.pk])).status_code == 404
    assert client.get(reverse("admin:bloodbank-network-request", args=[999999])).status_code == 404


def test_a_closed_request_shows_in_the_network_view_without_the_offer(bob, carol, hospital_a):
    blood_request = services.request_create(hospital=hospital_a, blood_group="A+", units=1, urgency=4, by=bob)
    services.request_cancel(request=blood_request, by=bob)
    view = _login(carol).get(reverse("admin:bloodbank-network-request", args=[blood_request.pk]))
    assert (
        view.status_code == 200
        and b"is cancelled: it needs no more units" in view.content
        and b"Offer units" not in view.content
    )


# --- emergency release --------------------------------------------------------------------------------


def _emergency(hospital, bob, stock, *, group="A+", urgency=5):
    stock(hospital, "O+", 2)
    stock(hospital, "O-", 1)
    blood_request = services.request_create(hospital=hospital, blood_group=group, units=2, urgency=urgency, by=bob)
    return blood_request, reverse("admin:bloodbank-emergency-release", args=[blood_request.pk])


def test_emergency_release_with_physician_and_reason(bob, hospital_a, stock):
    blood_request, url = _emergency(hospital_a, bob, stock)
    client = _login(bob)
    assert client.get(url).status_code == 200
    assert url.encode() in client.get(NETWORK).content
    missing = client.post(url, {"physician": "Dr Jane Moss", "reason": ""})
    assert missing.status_code == 200 and missing.context["form"].errors["reason"]
    done = client.post(url, {"physician": "Dr Jane Moss", "reason": "Massive haemorrhage in theatre"}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("admin:bloodbank_bloodrequest_change", args=[blood_request.pk])
    assert "2 unit(s) of group O red cells issued uncrossmatched" in " ".join(_messages(done))
    allocations = Allocation.objects.filter(request=blood_request)
    assert allocations.count() == 2 and all(allocation.emergency for allocation in allocations)
    reason = allocations[0].unit.events.last().reason
    assert reason == "Emergency release, uncrossmatched, authorised by Dr Jane Moss: Massive haemorrhage in theatre"


def test_emergency_release_with_a_stale_login_goes_to_reauthenticate(bob, hospital_a, stock):
    _, url = _emergency(hospital_a, bob, stock)
    client = console_logged_in_ago(bob)
    for answer in (client.get(url), client.post(url, {"physician": "Dr Jane Moss", "reason": "Bleeding"})):
        assert answer.status_code == 302
        assert answer.url.startswith(reverse("account_reauthenticate")) and "next=" in answer.url
    assert not Allocation.objects.exists()


def test_emergency_release_refused_by_the_service_is_a_form_error(bob, carol, hospital_a, stock):
    blood_request, url = _emergency(hospital_a, bob, stock, urgency=4)
    refused = _login(bob).post(url, {"physician": "Dr Jane Moss", "reason": "Bleeding"})
    assert refused.status_code == 200 and "only for urgency 5" in str(refused.context["form"].non_field_errors())
    assert not Allocation.objects.exists()
    assert _login(carol).get(url).status_code == 404  # another hospital's request
    admin_action = _login(bob).post(
        "/admin/bloodbank/bloodrequest/", {"action": "release_in_emergency", "_selected_action": [blood_request.pk]}
    )
    assert admin_action.status_code == 302 and admin_action.url == url
