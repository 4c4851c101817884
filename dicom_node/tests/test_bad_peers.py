"""What no well-behaved SCU sends, from a pynetdicom client made to misbehave: data sets that are not
DICOM or stop halfway, and a peer that drops the connection in the middle of an instance. Each is
refused or ended without leaving a row or file of it, and the listener serves on."""

import socket

import pytest
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from dicom_node.models import AssociationStatus, DicomAssociation, InstanceStatus, ReceivedInstance

from . import dicoms
from .conftest import PEER_AE, register, stored_files, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def associate(node, *sop_classes):
    ae = AE(ae_title=PEER_AE)
    for sop_class in (*sop_classes, Verification):
        ae.add_requested_context(sop_class, ExplicitVRLittleEndian)
    association = ae.associate("127.0.0.1", node.port, ae_title=node.ae_title)
    assert association.is_established
    return association


def ended_association():
    return wait_for(
        lambda: DicomAssociation.objects.exclude(status=AssociationStatus.OPEN).first(), what="the association to end"
    )


@pytest.mark.parametrize(
    "body, statuses",
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n", {0xA900, 0xC000}),
        (dicoms.encoded(dicoms.chest_xray())[400:-300], {0xA900, 0xC000}),  # the data set cut at both ends
        (b"", {0xA900, 0xC000}),
    ],
    ids=["not-dicom", "truncated", "empty"],
)
def test_a_data_set_that_is_not_dicom_is_refused_and_leaves_nothing(
    node, hospital_a, tmp_path, body, statuses, monkeypatch
):
    from pynetdicom import _config

    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)  # sent from the file as it is, never decoded here
    register(hospital_a)
    association = associate(node, dicoms.CR)
    status = association.send_c_store(dicoms.file_meta_then(body, tmp_path / "sent.dcm"))
    assert status.Status in statuses, hex(status.Status)
    assert status.ErrorComment
    assert association.send_c_echo().Status == 0x0000  # the association itself carries on
    association.release()
    assert (ended_association().received, DicomAssociation.objects.get().refused) == (0, 1)
    assert not ReceivedInstance.objects.exists() and stored_files(node.media) == []


def test_a_peer_that_drops_the_connection_mid_instance_leaves_only_what_was_acknowledged(node, hospital_a):
    register(hospital_a)
    association = associate(node, dicoms.CR)
    assert association.send_c_store(dicoms.chest_xray(seed=7)).Status == 0x0000
    # The start of a P-DATA-TF PDU announcing 100 kB, then the connection goes.
    connection = association.dul.socket.socket
    connection.sendall(b"\x04\x00" + (100_000).to_bytes(4, "big") + b"\x00" * 1000)
    connection.shutdown(socket.SHUT_RDWR)
    ended = ended_association()
    assert (ended.status, ended.received, ended.refused) == (AssociationStatus.ABORTED, 1, 0)
    # The acknowledged instance is kept and routed (no rule here: it waits for a person); nothing of the other.
    instance = wait_for(
        lambda: ReceivedInstance.objects.filter(status=InstanceStatus.WAITING).first(),
        what="the kept instance to be routed",
    )
    assert ReceivedInstance.objects.count() == 1 and [path.name for path in stored_files(node.media)] == [
        instance.file.name.rsplit("/", 1)[-1]
    ]
    association.kill()
    again = associate(node)
    assert again.send_c_echo().Status == 0x0000  # the listener serves on
    again.release()


def test_an_association_left_open_by_a_stopped_listener_is_ended_by_the_sweep(node, hospital_a):
    from datetime import timedelta

    from django.utils import timezone

    from dicom_node import tasks

    register(hospital_a)
    association = associate(node, dicoms.CR)
    assert association.send_c_store(dicoms.chest_xray(seed=8)).Status == 0x0000
    record = DicomAssociation.objects.get()
    assert record.status == AssociationStatus.OPEN
    DicomAssociation.objects.filter(pk=record.pk).update(last_activity_at=timezone.now() - timedelta(hours=1))
    assert tasks.route_interrupted_associations() == 1
    record.refresh_from_db()
    assert record.status == AssociationStatus.INTERRUPTED
    assert ReceivedInstance.objects.get().status == InstanceStatus.WAITING
    association.release()  # its release finds it ended already: routed once
    assert ReceivedInstance.objects.count() == 1
