"""dcmtk's findscu against HealthSync's listener (Study Root C-FIND): a registered peer finds the study
it stored, at the study, series and image levels, with the results HealthSync made; an unknown AE is
rejected; another hospital's study is never answered; an unsupported level or a broken hierarchy gets
its failure status, and a key not matched on is ignored with the 0xFF01 warning."""

import pydicom
import pytest
from auditlog.models import LogEntry

from dicom_node.models import AssociationStatus, DicomAssociation, ReceivedInstance

from . import dicoms
from .conftest import PEER_AE, register, run_tool, wait_for
from .records import analysed_study

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def find(node, tmp_path, *keys, calling=PEER_AE, level="STUDY"):
    """findscu's answers (its responses' identifiers, read back) and its output."""
    out = tmp_path / f"find-{len(list(tmp_path.glob('find-*')))}"
    out.mkdir()
    arguments = ["-k", f"QueryRetrieveLevel={level}"] if level else []
    for key in keys:
        arguments += ["-k", key]
    done = run_tool(
        "findscu", "-d", "-S", "-X", "-od", out, "-aet", calling, "-aec", node.ae_title, "127.0.0.1", node.port,
        *arguments,
    )  # fmt: skip
    answers = [pydicom.dcmread(path) for path in sorted(out.glob("rsp*.dcm"))]
    return answers, done


def store(node, *paths, calling=PEER_AE):
    return run_tool("storescu", "-aet", calling, "-aec", node.ae_title, "127.0.0.1", node.port, *paths)


def test_a_peer_finds_the_study_it_stored_at_each_level(dicom_tools, node, hospital_a, tmp_path):
    register(hospital_a)
    sent = dicoms.chest_xray(seed=1, patient_id="MRN-FIND")
    stored = store(node, dicoms.write(sent, tmp_path / "cr.dcm"))
    assert stored.returncode == 0, stored.stdout + stored.stderr
    wait_for(lambda: ReceivedInstance.objects.exists(), what="the instance")

    [study], done = find(node, tmp_path, "PatientID=MRN-FIND", "PatientName", "StudyInstanceUID", "ModalitiesInStudy")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (study.StudyInstanceUID, study.PatientID, str(study.PatientName)) == (
        sent.StudyInstanceUID,
        "MRN-FIND",
        "Doe^Jane",
    )
    assert study.ModalitiesInStudy == "CR" and study.QueryRetrieveLevel == "STUDY"
    assert find(node, tmp_path, "PatientID=MRN-F*", "StudyInstanceUID")[0][0].StudyInstanceUID == sent.StudyInstanceUID
    assert find(node, tmp_path, "PatientID=MRN-OTHER")[0] == []
    assert len(find(node, tmp_path, "StudyDate=20250101-20250131")[0]) == 1
    assert find(node, tmp_path, "StudyDate=-20241231")[0] == []

    [series], _ = find(
        node, tmp_path, f"StudyInstanceUID={sent.StudyInstanceUID}", "SeriesInstanceUID", "Modality", level="SERIES"
    )
    assert (series.SeriesInstanceUID, series.Modality, series.StudyInstanceUID) == (
        sent.SeriesInstanceUID,
        "CR",
        sent.StudyInstanceUID,
    )
    [image], _ = find(
        node,
        tmp_path,
        f"StudyInstanceUID={sent.StudyInstanceUID}",
        f"SeriesInstanceUID={sent.SeriesInstanceUID}",
        "SOPInstanceUID",
        "SOPClassUID",
        level="IMAGE",
    )
    assert (image.SOPInstanceUID, image.SOPClassUID) == (sent.SOPInstanceUID, dicoms.CR)
    # The patient identifiers shown are recorded as read by the peer.
    reads = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(ReceivedInstance.objects.get().pk))
    assert reads.exists() and reads.first().changes["C-FIND by"] == [None, PEER_AE]
    # The associations are recorded, and end released with nothing received.
    assert set(DicomAssociation.objects.values_list("status", flat=True)) <= {
        AssociationStatus.RELEASED,
        AssociationStatus.OPEN,
    }


def test_the_results_healthsync_made_are_found_and_not_another_hospitals(
    dicom_tools, node, hospital_a, hospital_b, tmp_path
):
    register(hospital_a)
    register(hospital_b, "OTHERPEER")
    ours = analysed_study(hospital_a, patient_id="MRN-SHARED")
    theirs = analysed_study(hospital_b, patient_id="MRN-SHARED")

    found, _ = find(node, tmp_path, "PatientID=MRN-SHARED", "StudyInstanceUID", "ModalitiesInStudy")
    assert [(study.StudyInstanceUID, list(study.ModalitiesInStudy)) for study in found] == [
        (ours["dicom_study"], ["CR", "OT", "SR"])
    ]
    assert find(node, tmp_path, f"StudyInstanceUID={theirs['dicom_study']}")[0] == []
    assert find(node, tmp_path, "StudyInstanceUID", calling="OTHERPEER")[0][0].StudyInstanceUID == theirs["dicom_study"]
    assert (
        find(node, tmp_path, f"StudyInstanceUID={theirs['dicom_study']}", "SeriesInstanceUID", level="SERIES")[0] == []
    )

    series, _ = find(
        node, tmp_path, f"StudyInstanceUID={ours['dicom_study']}", "SeriesInstanceUID", "Modality", level="SERIES"
    )
    assert sorted(row.Modality for row in series) == ["CR", "OT", "SR"]
    [report], _ = find(
        node,
        tmp_path,
        f"StudyInstanceUID={ours['dicom_study']}",
        f"SeriesInstanceUID={ours['dicom_series']}",
        "SOPInstanceUID",
        "SOPClassUID",
        level="IMAGE",
    )
    assert (report.SOPInstanceUID, report.SOPClassUID) == (ours["dicom_instance"], dicoms.COMPREHENSIVE_SR)


def test_an_unknown_ae_is_rejected(dicom_tools, node, hospital_a, tmp_path):
    analysed_study(hospital_a)
    answers, done = find(node, tmp_path, "StudyInstanceUID", calling="INTRUDER")
    assert done.returncode != 0 and answers == []
    assert "Association Rejected" in done.stdout + done.stderr
    assert DicomAssociation.objects.get(calling_ae="INTRUDER").status == AssociationStatus.REJECTED


def test_unsupported_levels_and_keys(dicom_tools, node, hospital_a, tmp_path):
    register(hospital_a)
    ours = analysed_study(hospital_a, patient_id="MRN-KEYS")

    answers, done = find(node, tmp_path, "PatientID", level="PATIENT")  # not a Study Root level
    assert answers == [] and "0xa900" in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    answers, done = find(node, tmp_path, "SeriesInstanceUID", level="SERIES")  # no study named: not hierarchical
    assert answers == [] and "0xa900" in (done.stdout + done.stderr).lower()
    answers, done = find(node, tmp_path, "StudyDate=2025-01-01")
    assert answers == [] and "0xc000" in (done.stdout + done.stderr).lower()

    # A key not matched on is ignored for matching, and an attribute not kept answered empty: 0xFF01.
    [study], done = find(node, tmp_path, "PatientID=MRN-KEYS", "InstitutionName=Elsewhere", "StudyDescription")
    assert study.StudyInstanceUID == ours["dicom_study"] and study.StudyDescription == ""
    assert "0xff01" in (done.stdout + done.stderr).lower(), done.stdout + done.stderr
    [study], done = find(node, tmp_path, "PatientID=MRN-KEYS", "PatientName=*")
    assert str(study.PatientName) == "Doe^Jane" and "0xff01" not in (done.stdout + done.stderr).lower()
