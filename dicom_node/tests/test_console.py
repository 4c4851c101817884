"""The node in the console and in /healthz: peers and rules written through the services (their
refusals on the form), associations and instances listed per hospital, a waiting instance analysed
for the condition staff choose, and the listener reported up, down or disabled."""

import pytest
from django.test import Client

from dicom_node import services
from dicom_node.models import (
    AssociationStatus,
    DicomAssociation,
    DicomPeer,
    InstanceStatus,
    ReceivedInstance,
    ResultDelivery,
)
from imaging.models import Condition, ImageAnalysis, MLModel

from . import dicoms
from .conftest import PEER_AE, register, route_chest_xrays

pytestmark = pytest.mark.django_db(transaction=True)
CONSOLE = "/admin/dicom_node"


def receive(hospital, *datasets, ae_title=PEER_AE) -> DicomAssociation:
    """An association of a registered peer bringing ``datasets``, through the services (no network)."""
    session = services.association_open(calling_ae=ae_title, called_ae="HEALTHSYNC", address="127.0.0.1", port=50000)
    for dataset in datasets:
        assert (
            services.instance_receive(session, sop_class_uid=dataset.SOPClassUID, data=dicoms.encoded(dataset)).status
            == 0
        )
    services.association_close(session, status=AssociationStatus.RELEASED)
    return DicomAssociation.objects.get(pk=session.association_id)


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def test_staff_see_their_hospitals_node_records_only(alice, bob, carol, hospital_a, media):
    register(hospital_a)
    route_chest_xrays(hospital_a)
    receive(hospital_a, dicoms.chest_xray(body_part="HAND"))
    with pytest.raises(services.AssociationRefused):
        services.association_open(calling_ae="NOBODY", called_ae="HEALTHSYNC", address="127.0.0.1", port=1)
    for page in ("dicompeer", "routingrule", "dicomassociation", "receivedinstance", "resultdelivery"):
        assert console(alice).get(f"{CONSOLE}/{page}/").status_code == 200, page
    listed = console(alice).get(f"{CONSOLE}/dicomassociation/").content.decode()
    assert PEER_AE in listed and "NOBODY" not in listed  # a rejected caller belongs to no hospital
    assert PEER_AE not in console(carol).get(f"{CONSOLE}/dicomassociation/").content.decode()
    waiting = console(alice).get(f"{CONSOLE}/receivedinstance/?status=waiting").content.decode()
    assert "No routing rule of the hospital fits" in waiting
    # Registering peers is for hospital administrators; medical staff read them.
    assert console(bob).get(f"{CONSOLE}/dicompeer/add/").status_code == 403
    assert console(bob).get(f"{CONSOLE}/dicompeer/").status_code == 200


def test_peers_and_rules_are_saved_through_the_services(alice, hospital_a):
    client = console(alice)
    form = {
        "hospital": hospital_a.pk,
        "ae_title": "  PACS1 ",
        "host": "no-such-host.invalid",
        "port": 104,
        "description": "",
    }
    refused = client.post(f"{CONSOLE}/dicompeer/add/", form)
    assert refused.status_code == 200 and "neither an IP address nor a host name" in refused.content.decode()
    assert (
        client.post(f"{CONSOLE}/dicompeer/add/", {**form, "host": "127.0.0.1", "is_destination": "on"}).status_code
        == 302
    )
    assert DicomPeer.objects.get().ae_title == "PACS1"
    second = client.post(
        f"{CONSOLE}/dicompeer/add/", {**form, "ae_title": "PACS2", "host": "127.0.0.1", "is_destination": "on"}
    )
    assert second.status_code == 200 and DicomPeer.objects.count() == 1  # one results destination per hospital

    pneumonia = Condition.objects.get(code="pneumonia")
    other = MLModel.objects.filter(is_active=True).exclude(conditions=pneumonia).first()
    rule = {
        "hospital": hospital_a.pk,
        "priority": 10,
        "modality": "CR",
        "condition": pneumonia.pk,
        "model": other.pk,
        "is_active": "on",
    }
    mismatch = client.post(f"{CONSOLE}/routingrule/add/", rule)
    assert mismatch.status_code == 200 and "is not a model for Pneumonia" in mismatch.content.decode()
    assert client.post(f"{CONSOLE}/routingrule/add/", {**rule, "model": ""}).status_code == 302


def test_staff_choose_the_condition_of_a_waiting_instance(alice, carol, hospital_a, media):
    register(hospital_a)
    receive(hospital_a, dicoms.chest_xray(seed=3, patient_id="MRN-9"))
    instance = ReceivedInstance.objects.get()
    assert instance.status == InstanceStatus.WAITING and instance.file
    pneumonia = Condition.objects.get(code="pneumonia")
    page = f"{CONSOLE}/receivedinstance/{instance.pk}/change/"
    assert console(carol).get(page).status_code in (302, 403, 404)  # another hospital's staff
    assert "Analyse anyway" in console(alice).get(page).content.decode()
    chosen = console(alice).post(page, {"condition": pneumonia.pk, "model": "", "_save": "Save"})
    assert chosen.status_code == 302, chosen.content.decode()[:2000]
    instance.refresh_from_db()
    analysis = instance.analyses.get()
    assert instance.status == InstanceStatus.ANALYSING and not instance.file
    assert (analysis.requested_by_id, analysis.requested_condition_id, analysis.patient_reference) == (
        alice.pk,
        pneumonia.pk,
        "MRN-9",
    )
    assert analysis.status == "done"
    # Chosen once: the page no longer offers the choice, and the service refuses a second one.
    with pytest.raises(services.Conflict):
        services.instance_analyse(instance=instance, condition=pneumonia, by=alice)


def test_a_forced_analysis_carries_its_warning_into_the_report(alice, hospital_a, media):
    register(hospital_a)
    route_chest_xrays(hospital_a, modality="MR", body_part="")
    mr = dicoms.chest_xray(seed=4, modality="MR", sop_class="1.2.840.10008.5.1.4.1.1.4")
    receive(hospital_a, mr)
    instance = ReceivedInstance.objects.get()
    assert instance.status == InstanceStatus.WAITING and "This is a MR study" in instance.reason and instance.rule_id
    services.instance_analyse(
        instance=instance, condition=instance.rule.condition, model=instance.rule.model, by=alice, force=True
    )
    analysis = ImageAnalysis.objects.get()
    assert [warning["code"] for warning in analysis.warnings] == ["modality_mismatch"]
    delivery = ResultDelivery.objects.get(analysis=analysis)  # no destination yet: it waits, the report is made anyway
    report, capture = services.results_of(delivery)
    texts = [item.TextValue for item in report.ContentSequence if item.ValueType == "TEXT"]
    assert any(text.startswith("Warning (modality_mismatch): This is a MR study") for text in texts)
    assert report.StudyInstanceUID == mr.StudyInstanceUID == capture.StudyInstanceUID
    assert (report.PatientID, capture.PatientID) == ("MRN-0001", "MRN-0001")


def test_healthz_reports_the_listener_without_failing_on_it(client, settings, node):
    from healthsync.tests.servers import free_port

    def reported():
        response = client.get("/healthz")
        assert response.status_code == 200
        return response.json()["checks"]["dicom_listener"]

    assert reported() == "up"
    settings.HEALTHSYNC_DICOM_PORT = 0
    assert reported() == "disabled"
    from dicom_node import listener

    listener.stop()
    settings.HEALTHSYNC_DICOM_PORT = free_port()
    assert reported() == "down"
    # A listener of another process (manage.py dicom_listener) answers the probe's C-ECHO.
    listener.serve(host="127.0.0.1", port=settings.HEALTHSYNC_DICOM_PORT, block=False)
    listener._server, server = None, listener._server
    try:
        assert reported() == "up"
        assert not DicomAssociation.objects.exists()  # the probe is not recorded
    finally:
        server.shutdown()
