"""dcmtk (echoscu, storescu) against HealthSync's listener: verification, trusted and unknown peers,
routing to an analysis, and every kind of bad input refused with its DIMSE status, nothing kept."""

import re

import pytest

from dicom_node.models import AssociationStatus, DicomAssociation, InstanceStatus, ReceivedInstance
from imaging.models import AnalysisStatus, ImageAnalysis

from . import dicoms
from .conftest import PEER_AE, register, route_chest_xrays, run_tool, stored_files, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def echo(node, calling=PEER_AE, called=None):
    return run_tool("echoscu", "-v", "-aet", calling, "-aec", called or node.ae_title, "127.0.0.1", node.port)


def store(node, *paths, calling=PEER_AE):
    return run_tool("storescu", "-d", "-aet", calling, "-aec", node.ae_title, "127.0.0.1", node.port, *paths)


def finished_association():
    return wait_for(
        lambda: (
            DicomAssociation.objects.exclude(status=AssociationStatus.OPEN)
            .exclude(status=AssociationStatus.REJECTED)
            .first()
        ),
        what="the association to end",
    )


def test_a_registered_peer_echoes_and_an_unknown_one_is_rejected(dicom_tools, node, hospital_a):
    register(hospital_a)
    assert echo(node).returncode == 0
    unknown = echo(node, calling="INTRUDER")
    assert unknown.returncode != 0
    assert "Association Rejected" in unknown.stdout + unknown.stderr
    assert "Calling AE Title Not Recognized" in unknown.stdout + unknown.stderr
    wrong_called = echo(node, called="SOMEONE-ELSE")
    assert (
        wrong_called.returncode != 0 and "Called AE Title Not Recognized" in wrong_called.stdout + wrong_called.stderr
    )
    rejected = DicomAssociation.objects.filter(status=AssociationStatus.REJECTED).order_by("pk")
    assert [(row.calling_ae, row.hospital_id) for row in rejected] == [("INTRUDER", None), (PEER_AE, None)]
    assert "No hospital trusts 'INTRUDER'" in rejected[0].detail
    # The registered AE title from another host is no trusted peer either.
    register(hospital_a, "ELSEWHERE", host="192.0.2.10")
    assert echo(node, calling="ELSEWHERE").returncode != 0
    assert echo(node).returncode == 0  # and the listener serves on


def test_a_series_from_a_registered_peer_is_analysed_as_one_batch(dicom_tools, node, hospital_a, tmp_path):
    register(hospital_a)
    rule = route_chest_xrays(hospital_a, series_description="pa*")
    series = dicoms.chest_xray(seed=1).SeriesInstanceUID
    paths = [
        dicoms.write(dicoms.chest_xray(seed=seed, series_uid=series, patient_id="MRN-42"), tmp_path / f"{seed}.dcm")
        for seed in (1, 2, 3)
    ]
    sent = store(node, *paths)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    association = finished_association()
    assert (association.status, association.received, association.refused, association.hospital_id) == (
        AssociationStatus.RELEASED,
        3,
        0,
        hospital_a.pk,
    )
    analyses = wait_for(
        lambda: (
            [a for a in ImageAnalysis.objects.order_by("pk") if a.status == AnalysisStatus.DONE]
            if ImageAnalysis.objects.filter(status=AnalysisStatus.DONE).count() == 3
            else None
        ),
        what="three finished analyses",
    )
    assert {analysis.batch for analysis in analyses} == {analyses[0].batch}, "one series, one association: one batch"
    assert all(analysis.hospital_id == hospital_a.pk and analysis.requested_by is None for analysis in analyses)
    assert {analysis.model.name for analysis in analyses} == {"pneumoniamnist-basic_cnn"}
    assert analyses[0].requested_condition.code == "pneumonia" and analyses[0].patient_reference == "MRN-42"
    instances = list(ReceivedInstance.objects.all())
    assert [(instance.status, instance.rule_id, bool(instance.file)) for instance in instances] == [
        (InstanceStatus.ANALYSING, rule.pk, False)
    ] * 3
    # The stored study is de-identified; its identifiers are kept encrypted with the analysis.
    import pydicom

    kept = pydicom.dcmread(analyses[0].image.path)
    assert kept.get("PatientName", "") == "" and kept.PatientIdentityRemoved == "YES"
    assert "MRN-42" in analyses[0].patient_identifiers and "SOPInstanceUID" in analyses[0].patient_identifiers


def test_an_instance_no_rule_fits_waits_for_a_person(dicom_tools, node, hospital_a, tmp_path):
    register(hospital_a)
    route_chest_xrays(hospital_a)  # CR CHEST only
    sent = store(node, dicoms.write(dicoms.chest_xray(body_part="KNEE"), tmp_path / "knee.dcm"))
    assert sent.returncode == 0, sent.stdout + sent.stderr
    finished_association()
    instance = wait_for(
        lambda: ReceivedInstance.objects.filter(status=InstanceStatus.WAITING).first(), what="the instance to wait"
    )
    assert "No routing rule" in instance.reason and instance.file and not ImageAnalysis.objects.exists()


@pytest.mark.parametrize(
    "make, status, comment",
    [
        (lambda tmp: dicoms.write(dicoms.rt_plan(), tmp / "plan.dcm"), "0122", "not a SOP class HealthSync analyses"),
        (lambda tmp: dicoms.write(_truncated_pixels(), tmp / "short.dcm"), "c000", "bytes of pixel data"),
        (lambda tmp: dicoms.write(_without_pixels(), tmp / "nopixels.dcm"), "a900", "without pixel data"),
    ],
    ids=["unsupported-sop-class", "pixel-data-truncated", "no-pixel-data"],
)
def test_bad_instances_get_their_failure_status_and_leave_nothing(
    dicom_tools, node, hospital_a, tmp_path, make, status, comment
):
    register(hospital_a)
    route_chest_xrays(hospital_a)
    output = _status_of(store(node, make(tmp_path)))
    assert output.startswith(f"0x{status}"), output
    assert comment[:20] in output  # the response's Error Comment says why
    association = finished_association()
    assert (association.received, association.refused) == (0, 1) and comment in association.detail
    assert not ReceivedInstance.objects.exists() and not ImageAnalysis.objects.exists()
    assert stored_files(node.media) == []
    assert echo(node).returncode == 0  # the listener serves on


def test_an_oversized_instance_is_refused_out_of_resources(dicom_tools, node, hospital_a, tmp_path, settings):
    settings.HEALTHSYNC_DICOM_MAX_INSTANCE_MB = 1
    register(hospital_a)
    output = _status_of(store(node, dicoms.write(dicoms.chest_xray(size=1024, bits=16), tmp_path / "big.dcm")))
    assert output.startswith("0xa700"), output
    association = finished_association()
    assert (association.received, association.refused) == (0, 1) and "larger than 1 MB" in association.detail
    assert not ReceivedInstance.objects.exists() and stored_files(node.media) == []


def _status_of(sent) -> str:
    """The status of storescu's (last) C-STORE response, in lower-case hexadecimal, and its details."""
    output = sent.stdout + sent.stderr
    statuses = re.findall(r"DIMSE Status\s*:\s*(0x[0-9a-fA-F]{4})", output)
    assert statuses, output
    return statuses[-1].lower() + output[output.rfind("DIMSE Status") :]


def _truncated_pixels():
    dataset = dicoms.chest_xray()
    dataset.PixelData = dataset.PixelData[:100]
    return dataset


def _without_pixels():
    dataset = dicoms.chest_xray()
    del dataset.PixelData
    return dataset
