"""Orthanc as a hospital's archive: it sends a study to HealthSync through its REST API, HealthSync
analyses it and C-STOREs its structured report and Grad-CAM secondary capture back, and the test
reads them from Orthanc's REST API. The report passes dicom3tools' dciodvfy."""

import pydicom
import pytest

from dicom_node import results
from dicom_node.models import DeliveryStatus, ResultDelivery
from imaging.models import AnalysisStatus, ImageAnalysis

from . import dicoms
from .conftest import Orthanc, register, route_chest_xrays, run_tool, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _content(item) -> list[tuple[str, str, object]]:
    """(value type, concept, value) of every text and number of an SR content tree, depth first."""
    found = []
    for child in item.get("ContentSequence", []):
        concept = child.ConceptNameCodeSequence[0].CodeMeaning
        if child.ValueType == "TEXT":
            found.append(("TEXT", concept, child.TextValue))
        elif child.ValueType == "NUM":
            found.append(("NUM", concept, float(child.MeasuredValueSequence[0].NumericValue)))
        found += _content(child)
    return found


def test_orthanc_sends_a_study_and_reads_back_the_report_and_overlay(dicom_tools, node, orthanc, hospital_a, tmp_path):
    register(hospital_a, Orthanc.AE_TITLE, port=orthanc.dicom_port, destination=True)
    route_chest_xrays(hospital_a)
    source = dicoms.chest_xray(seed=5, patient_id="MRN-ORTHANC")
    uploaded = orthanc.post("/instances", dicoms.encoded(source), raw=True)
    orthanc.post("/modalities/healthsync/store", {"Resources": [uploaded["ParentStudy"]], "Synchronous": True})

    wait_for(
        lambda: len(orthanc.get("/instances")) == 3, timeout=120, what="HealthSync's two result instances in Orthanc"
    )
    analysis = ImageAnalysis.objects.get()
    assert analysis.status == AnalysisStatus.DONE and analysis.hospital_id == hospital_a.pk
    delivery = wait_for(
        lambda: ResultDelivery.objects.filter(status=DeliveryStatus.SENT).first(), what="the delivery recorded as sent"
    )
    assert (delivery.status, delivery.attempts, delivery.destination) == (
        DeliveryStatus.SENT,
        1,
        f"ORTHANC@127.0.0.1:{orthanc.dicom_port}",
    )

    tags = {instance: orthanc.get(f"/instances/{instance}/tags?simplify") for instance in orthanc.get("/instances")}
    by_class = {value["SOPClassUID"]: (instance, value) for instance, value in tags.items()}
    assert set(by_class) == {dicoms.CR, dicoms.COMPREHENSIVE_SR, dicoms.SECONDARY_CAPTURE}
    for sop_class in (dicoms.COMPREHENSIVE_SR, dicoms.SECONDARY_CAPTURE):
        _, result = by_class[sop_class]
        # In the source study, under the patient's own identifiers (restored for the sending hospital).
        assert result["StudyInstanceUID"] == source.StudyInstanceUID
        assert (result["PatientID"], result["PatientName"], result["AccessionNumber"]) == (
            "MRN-ORTHANC",
            "Doe^Jane",
            "ACC-77",
        )
        assert result["SeriesInstanceUID"] != source.SeriesInstanceUID and result["Manufacturer"] == "HealthSync"

    report_id, _ = by_class[dicoms.COMPREHENSIVE_SR]
    report_file = tmp_path / "report.dcm"
    report_file.write_bytes(orthanc.get_bytes(f"/instances/{report_id}/file"))
    report = pydicom.dcmread(report_file)
    content = _content(report)
    texts = {(concept, value) for kind, concept, value in content if kind == "TEXT"}
    assert any(
        concept == "Comment" and value.startswith("Decision support, not a diagnosis") for concept, value in texts
    )
    assert (
        "Comment",
        f"{results.DISCLAIMER} {results.DISCLAIMER_DETAIL}",
    ) in texts
    assert {("Algorithm Name", "pneumoniamnist-basic_cnn"), ("Algorithm Version", str(analysis.model.version))} <= texts
    assert any(concept == "Finding" and value.startswith(analysis.predicted_class) for concept, value in texts)
    numbers = {concept: value for kind, concept, value in content if kind == "NUM"}
    assert numbers == pytest.approx(
        {f"Probability of {row['class']}": row["probability"] * 100 for row in analysis.predictions}, abs=0.01
    )
    evidence = report.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == source.SOPInstanceUID

    capture_id, _ = by_class[dicoms.SECONDARY_CAPTURE]
    capture = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc.get_bytes(f"/instances/{capture_id}/file")))
    assert capture.PhotometricInterpretation == "RGB" and capture.pixel_array.shape == (256, 256, 3)

    verified = run_tool(dicom_tools["dciodvfy"], report_file)
    errors = [line for line in (verified.stdout + verified.stderr).splitlines() if line.startswith("Error")]
    assert errors == [], verified.stdout + verified.stderr


def test_results_wait_for_a_destination_that_is_down_and_go_when_it_is_back(dicom_tools, node, hospital_a, tmp_path):
    import subprocess

    from dicom_node import tasks
    from dicom_node.models import ReceivedInstance
    from healthsync.tests.servers import free_port

    archive_port = free_port()
    register(hospital_a)  # the sender (storescu)
    register(hospital_a, "ARCHIVE", port=archive_port, destination=True)
    route_chest_xrays(hospital_a)
    sent = run_tool(
        "storescu",
        "-aet",
        "STORESCU",
        "-aec",
        node.ae_title,
        "127.0.0.1",
        node.port,
        dicoms.write(dicoms.chest_xray(seed=9), tmp_path / "study.dcm"),
    )
    assert sent.returncode == 0, sent.stdout + sent.stderr
    delivery = wait_for(lambda: ResultDelivery.objects.filter(attempts__gte=1).first(), what="a first delivery attempt")
    assert delivery.status == DeliveryStatus.PENDING and "did not accept an association" in delivery.last_error
    assert delivery.next_attempt_at is not None
    assert ReceivedInstance.objects.get().status == "analysing"

    received = tmp_path / "archive"
    received.mkdir()
    archive = subprocess.Popen(
        ["storescp", "-aet", "ARCHIVE", "-od", str(received), str(archive_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: run_tool("echoscu", "-aec", "ARCHIVE", "127.0.0.1", archive_port).returncode == 0, what="storescp"
        )
        ResultDelivery.objects.update(next_attempt_at=delivery.next_attempt_at.replace(year=2000))  # due now
        assert tasks.resend_due_results() == 1
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.SENT and delivery.last_error == ""
        stored = sorted(path.name[:2] for path in received.iterdir())
        assert stored == ["SC", "SR"]
        assert tasks.resend_due_results() == 0  # sent once
    finally:
        archive.terminate()
        archive.wait(timeout=10)
