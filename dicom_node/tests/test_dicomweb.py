"""DICOMweb (PS3.18): STOW-RS stores through the same path as a C-STORE, QIDO-RS finds only the hospital's
own studies, WADO-RS returns the results HealthSync made; and dicomweb-client, a real client, against
the live server: store a study, find its report, retrieve it."""

import email.parser
import email.policy
import json

import pydicom
import pytest
from pydicom.dataset import Dataset

from dicom_node.models import AssociationStatus, DicomAssociation, InstanceStatus, ReceivedInstance
from imaging.models import AnalysisStatus, ImageAnalysis

from . import dicoms
from .conftest import route_chest_xrays, wait_for
from .records import analysed_study

BOUNDARY = "healthsync-test-boundary"
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


def multipart(*contents: bytes, part_type: str = "application/dicom") -> bytes:
    """A STOW-RS body, as a client writes it (independent of the server's writer)."""
    body = b"".join(
        f"--{BOUNDARY}\r\nContent-Type: {part_type}\r\n\r\n".encode() + content + b"\r\n" for content in contents
    )
    return body + f"--{BOUNDARY}--\r\n".encode()


def stow(client, body: bytes, *, path: str = "/dicomweb/studies", content_type: str = STOW_TYPE):
    return client.post(path, data=body, content_type=content_type)


def parts_of(response) -> list[pydicom.Dataset]:
    """The DICOM files of a multipart/related response, read with the standard library's MIME parser."""
    header = f"Content-Type: {response['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + response.content)
    assert message.get_content_type() == "multipart/related"
    return [
        pydicom.dcmread(pydicom.filebase.DicomBytesIO(part.get_payload(decode=True))) for part in message.iter_parts()
    ]


def tag(dataset: dict, keyword: str):
    from pydicom.datadict import tag_for_keyword

    return dataset.get(f"{tag_for_keyword(keyword):08X}", {}).get("Value", [None])


# --- STOW-RS ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stow_stores_the_good_part_and_fails_the_bad_one(api, bob, hospital_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    route_chest_xrays(hospital_a)
    good, bad = dicoms.chest_xray(seed=3, patient_id="MRN-STOW"), dicoms.rt_plan()
    response = stow(api(bob), multipart(dicoms.encoded(good), dicoms.encoded(bad)))

    assert response.status_code == 202, response.content
    assert response["Content-Type"] == "application/dicom+json"
    answer = Dataset.from_json(response.json())
    [stored] = answer.ReferencedSOPSequence
    assert (stored.ReferencedSOPClassUID, stored.ReferencedSOPInstanceUID) == (dicoms.CR, good.SOPInstanceUID)
    [failed] = answer.FailedSOPSequence
    assert (failed.ReferencedSOPInstanceUID, failed.FailureReason) == (bad.SOPInstanceUID, 0x0122)
    assert "not a SOP class HealthSync analyses" in response["Warning"]
    # Stored as a C-STORE would be: de-identified, identifiers encrypted, routed to an analysis.
    exchange = DicomAssociation.objects.get()
    assert (exchange.calling_ae, exchange.sent_by, exchange.status, exchange.received, exchange.refused) == (
        "STOW-RS",
        bob,
        AssociationStatus.RELEASED,
        1,
        1,
    )
    instance = ReceivedInstance.objects.get()
    assert instance.hospital == hospital_a and instance.status == InstanceStatus.ANALYSING
    analysis = ImageAnalysis.objects.get()
    assert analysis.patient_reference == "MRN-STOW" and analysis.status == AnalysisStatus.QUEUED
    kept = pydicom.dcmread(analysis.image.path)
    assert kept.get("PatientName", "") == "" and kept.PatientIdentityRemoved == "YES"


@pytest.mark.django_db
def test_stow_answers_200_when_all_are_stored_and_409_when_none(api, bob, hospital_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    client = api(bob)
    ok = stow(client, multipart(dicoms.encoded(dicoms.chest_xray(body_part="KNEE"))))
    assert ok.status_code == 200, ok.content
    assert len(Dataset.from_json(ok.json()).ReferencedSOPSequence) == 1
    assert ReceivedInstance.objects.get().status == InstanceStatus.WAITING  # no rule: a person chooses

    none = stow(client, multipart(dicoms.encoded(dicoms.rt_plan()), b"not a DICOM file"))
    assert none.status_code == 409, none.content
    failed = Dataset.from_json(none.json()).FailedSOPSequence
    assert [item.FailureReason for item in failed] == [0x0122, 0xC000]
    assert "ReferencedSOPSequence" not in Dataset.from_json(none.json())


@pytest.mark.django_db
def test_stow_to_a_study_refuses_an_instance_of_another(api, bob, hospital_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    study = dicoms.chest_xray().StudyInstanceUID
    response = stow(api(bob), multipart(dicoms.encoded(dicoms.chest_xray())), path=f"/dicomweb/studies/{study}")
    assert response.status_code == 409
    [failed] = Dataset.from_json(response.json()).FailedSOPSequence
    assert failed.FailureReason == 0xA900 and "another study" in response["Warning"]
    assert not ReceivedInstance.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type, body, status, code",
    [
        (
            'multipart/related; type="application/dicom+json"; boundary=x',
            b"--x\r\n\r\n{}\r\n--x--",
            415,
            "unsupported_media_type",
        ),
        ("application/dicom", b"DICM", 415, "unsupported_media_type"),
        ("application/json", b"{}", 415, "unsupported_media_type"),
        ('multipart/related; type="application/dicom"', b"--x\r\n\r\nDICM\r\n--x--", 400, "malformed_multipart"),
        (STOW_TYPE, b"no delimiter at all", 400, "malformed_multipart"),
        (
            STOW_TYPE,
            f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\nDICM".encode(),
            400,
            "malformed_multipart",
        ),
        (
            STOW_TYPE,
            f"--{BOUNDARY}\r\nContent-Type application/dicom\r\n\r\nx\r\n--{BOUNDARY}--".encode(),
            400,
            "malformed_multipart",
        ),
        (STOW_TYPE, f"--{BOUNDARY}--\r\n".encode(), 400, "malformed_multipart"),
    ],
    ids=[
        "dicom-json-parts",
        "bare-dicom",
        "json",
        "no-boundary",
        "no-delimiter",
        "unterminated",
        "bad-header",
        "no-parts",
    ],
)
def test_stow_refuses_a_wrong_media_type_or_a_malformed_body_storing_nothing(
    api, bob, content_type, body, status, code
):
    response = stow(api(bob), body, content_type=content_type)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not DicomAssociation.objects.exists() and not ReceivedInstance.objects.exists()


@pytest.mark.django_db
def test_dicomweb_is_for_the_hospitals_own_staff(api, root, dave, hospital_a):
    assert stow(api(root), multipart(b"x")).status_code == 403
    assert api(root).get("/dicomweb/studies").status_code == 403  # no patient identifiers for platform administrators
    assert api(dave).get("/dicomweb/studies").status_code == 403
    assert stow(api(dave), multipart(b"x")).status_code == 403


# --- QIDO-RS ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_qido_finds_the_hospitals_studies_and_not_another_hospitals(
    api, bob, carol, hospital_a, hospital_b, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path)
    ours = analysed_study(hospital_a, patient_id="MRN-A1")
    analysed_study(hospital_a, patient_id="MRN-A2", study_date="20240610", gradcam=False)
    theirs = analysed_study(hospital_b, patient_id="MRN-A1")
    client = api(bob)

    response = client.get("/dicomweb/studies", HTTP_ACCEPT="application/dicom+json")
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom+json"
    assert len(response.json()) == 2
    found = client.get("/dicomweb/studies", {"PatientID": "MRN-A1"}).json()
    [study] = found
    assert tag(study, "StudyInstanceUID") == [ours["dicom_study"]]
    assert tag(study, "PatientName") == [{"Alphabetic": "Doe^Jane"}] and tag(study, "StudyDate") == ["20250102"]
    assert tag(study, "ModalitiesInStudy") == ["CR", "OT", "SR"]
    assert (tag(study, "NumberOfStudyRelatedSeries"), tag(study, "NumberOfStudyRelatedInstances")) == ([3], [3])
    assert tag(study, "RetrieveURL")[0].endswith(f"/dicomweb/studies/{ours['dicom_study']}")

    def uids(**params):
        return [tag(row, "StudyInstanceUID")[0] for row in client.get("/dicomweb/studies", params).json()]

    assert uids(StudyInstanceUID=ours["dicom_study"]) == [ours["dicom_study"]]
    assert uids(StudyInstanceUID=theirs["dicom_study"]) == []  # another hospital's: not found
    assert uids(**{"0020000D": ours["dicom_study"]}) == [ours["dicom_study"]]  # by tag
    assert uids(StudyDate="20250101-20250131") == [ours["dicom_study"]]
    assert uids(StudyDate="-20241231") != [ours["dicom_study"]] and len(uids(StudyDate="-20241231")) == 1
    assert uids(ModalitiesInStudy="OT") == [ours["dicom_study"]]  # only ours has a Grad-CAM capture
    assert uids(PatientName="Doe*") and uids(PatientName="Roe*") == []
    assert len(uids(limit=1)) == 1 and len(uids(limit=1, offset=1)) == 1 and uids(offset=2) == []
    assert uids(limit=1) != uids(limit=1, offset=1)
    ignored = client.get("/dicomweb/studies", {"InstitutionName": "X"})
    assert ignored.status_code == 200 and "InstitutionName" in ignored["Warning"]
    assert client.get("/dicomweb/studies", {"StudyDate": "2025-01-01"}).status_code == 400
    assert client.get("/dicomweb/studies", HTTP_ACCEPT="application/xml").status_code == 406

    other = api(carol)
    assert [tag(row, "PatientID") for row in other.get("/dicomweb/studies", {"PatientID": "MRN-A1"}).json()] == [
        ["MRN-A1"]
    ]
    assert other.get(f"/dicomweb/studies/{ours['dicom_study']}/series").status_code == 404


@pytest.mark.django_db
def test_qido_lists_the_series_and_instances_of_a_study(api, bob, hospital_a, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)
    study = analysed_study(hospital_a)
    client = api(bob)
    series = client.get(f"/dicomweb/studies/{study['dicom_study']}/series").json()
    assert sorted(tag(row, "Modality")[0] for row in series) == ["CR", "OT", "SR"]
    received = next(row for row in series if tag(row, "Modality") == ["CR"])
    assert tag(received, "SeriesInstanceUID") == [study["identifiers"]["SeriesInstanceUID"]]
    assert tag(received, "RetrieveURL") == [None]  # not served back
    only_sr = client.get(f"/dicomweb/studies/{study['dicom_study']}/series", {"Modality": "SR"}).json()
    assert [tag(row, "SeriesInstanceUID") for row in only_sr] == [[study["dicom_series"]]]

    base = f"/dicomweb/studies/{study['dicom_study']}/series"
    [report] = client.get(f"{base}/{study['dicom_series']}/instances").json()
    assert tag(report, "SOPInstanceUID") == [study["dicom_instance"]] and tag(report, "SOPClassUID") == [
        dicoms.COMPREHENSIVE_SR
    ]
    [source] = client.get(f"{base}/{study['identifiers']['SeriesInstanceUID']}/instances").json()
    assert tag(source, "SOPInstanceUID") == [study["identifiers"]["SOPInstanceUID"]]
    assert client.get(f"{base}/1.2.3/instances").status_code == 404
    assert client.get(f"{base}/not-a-uid/instances").status_code == 400


# --- WADO-RS ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wado_returns_the_report_healthsync_made_and_its_metadata(
    api, bob, carol, hospital_a, hospital_b, tmp_path, settings
):
    settings.MEDIA_ROOT = str(tmp_path)
    study = analysed_study(hospital_a, patient_id="MRN-WADO")
    client = api(bob)
    path = (
        f"/dicomweb/studies/{study['dicom_study']}/series/{study['dicom_series']}/instances/{study['dicom_instance']}"
    )

    response = client.get(path, HTTP_ACCEPT='multipart/related; type="application/dicom"')
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith('multipart/related; type="application/dicom"; boundary=')
    [report] = parts_of(response)
    assert (report.SOPClassUID, report.SOPInstanceUID, report.Modality) == (
        dicoms.COMPREHENSIVE_SR,
        study["dicom_instance"],
        "SR",
    )
    assert (report.StudyInstanceUID, report.PatientID, report.PatientName) == (
        study["dicom_study"],
        "MRN-WADO",
        "Doe^Jane",
    )
    assert report.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"

    whole = parts_of(client.get(f"/dicomweb/studies/{study['dicom_study']}"))
    assert sorted(dataset.SOPClassUID for dataset in whole) == [dicoms.SECONDARY_CAPTURE, dicoms.COMPREHENSIVE_SR]
    capture = next(dataset for dataset in whole if dataset.SOPClassUID == dicoms.SECONDARY_CAPTURE)
    assert capture.pixel_array.shape == (32, 32, 3)

    [metadata] = client.get(f"{path}/metadata", HTTP_ACCEPT="application/dicom+json").json()
    assert tag(metadata, "SOPInstanceUID") == [study["dicom_instance"]] and tag(metadata, "PatientID") == ["MRN-WADO"]
    study_metadata = client.get(f"/dicomweb/studies/{study['dicom_study']}/metadata").json()
    assert len(study_metadata) == 2 and all("7FE00010" not in dataset for dataset in study_metadata)

    assert api(carol).get(path).status_code == 404  # another hospital's
    assert api(carol).get(f"{path}/metadata").status_code == 404
    received = f"/dicomweb/studies/{study['dicom_study']}/series/{study['identifiers']['SeriesInstanceUID']}"
    assert client.get(received).status_code == 404  # the received instances are not served back
    assert client.get(path, HTTP_ACCEPT="application/json").status_code == 406
    assert (
        client.get(
            path, HTTP_ACCEPT='multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'
        ).status_code
        == 406
    )


# --- A real client against the live server ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_dicomweb_client_stores_a_study_and_retrieves_its_report(live_server, bob, hospital_a, tmp_path, settings):
    """dicomweb-client stores a chest X-ray; HealthSync analyses it (tasks inline) and the client finds
    the structured report with QIDO-RS and retrieves it with WADO-RS."""
    import requests
    from dicomweb_client.api import DICOMwebClient

    from conftest import PASSWORD

    settings.MEDIA_ROOT = str(tmp_path)
    route_chest_xrays(hospital_a)
    token = requests.post(
        f"{live_server.url}/api/auth/login", json={"email": bob.email, "password": PASSWORD}, timeout=30
    ).json()["access"]
    with (
        requests.Session() as session
    ):  # closed at the end: a kept-alive connection holds a server thread and its database session
        session.headers["Authorization"] = f"Bearer {token}"
        _store_and_retrieve(DICOMwebClient(url=f"{live_server.url}/dicomweb", session=session, timeout=300))


def _store_and_retrieve(client) -> None:
    source = dicoms.chest_xray(seed=7, patient_id="MRN-CLIENT")
    stored = client.store_instances([source])
    assert [item.ReferencedSOPInstanceUID for item in stored.ReferencedSOPSequence] == [source.SOPInstanceUID]
    wait_for(lambda: ImageAnalysis.objects.filter(status=AnalysisStatus.DONE).exists(), what="the analysis")

    [study] = client.search_for_studies(search_filters={"PatientID": "MRN-CLIENT"})
    assert study["0020000D"]["Value"] == [source.StudyInstanceUID] and "SR" in study["00080061"]["Value"]
    [report_series] = client.search_for_series(source.StudyInstanceUID, search_filters={"Modality": "SR"})
    series_uid = report_series["0020000E"]["Value"][0]
    [instance] = client.search_for_instances(source.StudyInstanceUID, series_uid)
    report = client.retrieve_instance(source.StudyInstanceUID, series_uid, instance["00080018"]["Value"][0])
    assert report.SOPClassUID == dicoms.COMPREHENSIVE_SR and report.PatientID == "MRN-CLIENT"
    evidence = report.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert evidence.ReferencedSOPInstanceUID == source.SOPInstanceUID
    analysis = ImageAnalysis.objects.get()
    texts = json.dumps(client.retrieve_study_metadata(source.StudyInstanceUID))
    assert analysis.predicted_class in texts and "Decision support, not a diagnosis" in texts
