"""An analysis as DICOM: a Comprehensive SR with its findings and a Secondary Capture of its Grad-CAM overlay.

Both belong to the source study as the sending hospital knows it: ``source_dataset`` puts the
study's original identifiers (kept encrypted with the analysis) back, so the results file next to
the study in the hospital's archive. They are made for that hospital only (``services`` sends them
to its own destination AE).

The report's tree (Comprehensive SR, no template):

* CONTAINER "Diagnostic imaging report" (LOINC 18748-4)
    * HAS OBS CONTEXT: the observer is a device (HealthSync, the model's name)
    * CONTAINS TEXT "Comment": "Decision support, not a diagnosis" (and why)
    * CONTAINS TEXT "Algorithm Name" / "Algorithm Version": the model and its version
    * CONTAINS CONTAINER "Findings"
        * CONTAINS TEXT "Finding": the predicted class (and its condition)
        * CONTAINS NUM, one per class: its probability (%), INFERRED FROM the source image
    * CONTAINS TEXT "Comment", one per warning: the checks staff overrode (image unlike the model's)
    * CONTAINS IMAGE "Source": the analysed instance
"""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

MANUFACTURER = "HealthSync"
DISCLAIMER = "Decision support, not a diagnosis."
DISCLAIMER_DETAIL = "A machine-learning model's output: a clinician confirms or corrects every finding."
# A coding scheme of our own (PS3.16 8.2: private schemes start with 99) for the models' class labels.
CLASS_SCHEME = "99HEALTHSYNC"
# Attributes of the source instance that the results copy, kept (encrypted) with the analysis.
RESULT_IDENTIFIERS = (
    "SOPInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "ReferringPhysicianName",
    "SeriesDescription",
    "PatientOrientation",
)
SR_SERIES_NUMBER = 9901
SC_SERIES_NUMBER = 9902


def source_dataset(*, identifiers: dict, sop_class_uid: str, modality: str) -> Dataset:
    """The source instance's header as the sending hospital has it: its original identifiers
    (``imaging.uploads.KEPT_IDENTIFIERS`` and ``RESULT_IDENTIFIERS``), its SOP class and modality."""
    source = Dataset()
    source.SOPClassUID = sop_class_uid
    source.Modality = modality or "OT"
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        setattr(source, keyword, identifiers[keyword])
    for keyword in (
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "AccessionNumber",
        "StudyID",
        "StudyDate",
        "StudyTime",
        "ReferringPhysicianName",
    ):
        setattr(source, keyword, identifiers.get(keyword, ""))
    orientation = identifiers.get("PatientOrientation", "")
    if orientation:
        source.PatientOrientation = orientation.strip("[]").replace("'", "").replace(", ", "\\")
    return source


def _code(value: str, scheme: str, meaning: str):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning[:64])


def _text(name, value: str, relationship="CONTAINS"):
    from highdicom.sr import TextContentItem

    return TextContentItem(name=name, value=value[:1024], relationship_type=relationship)


def structured_report(*, source: Dataset, analysis, series_uid: str, sop_instance_uid: str, device_uid: str) -> Dataset:
    """The analysis as a Comprehensive SR in the source's study, referencing the source instance."""
    from highdicom.coding_schemes import CodingSchemeIdentificationItem
    from highdicom.sr import (
        ComprehensiveSR,
        ContainerContentItem,
        DeviceObserverIdentifyingAttributes,
        ImageContentItem,
        NumContentItem,
        ObserverContext,
    )
    from pydicom.sr.codedict import codes

    model = analysis.model
    comment = _code("121106", "DCM", "Comment")
    source_image = dict(referenced_sop_class_uid=source.SOPClassUID, referenced_sop_instance_uid=source.SOPInstanceUID)

    findings = ContainerContentItem(name=_code("121070", "DCM", "Findings"), relationship_type="CONTAINS")
    found = [_text(_code("121071", "DCM", "Finding"), _finding_text(analysis))]
    for row in analysis.predictions:
        label = str(row["class"])
        probability = NumContentItem(
            name=_code(label[:16], CLASS_SCHEME, f"Probability of {label}"),
            value=round(float(row["probability"]) * 100, 2),
            unit=_code("%", "UCUM", "percent"),
            relationship_type="CONTAINS",
        )
        probability.ContentSequence = [
            ImageContentItem(
                name=_code("260753009", "SCT", "Source"), relationship_type="INFERRED FROM", **source_image
            )
        ]
        found.append(probability)
    findings.ContentSequence = found

    observer = ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=DeviceObserverIdentifyingAttributes(
            uid=device_uid, name=MANUFACTURER, manufacturer_name=MANUFACTURER, model_name=model.name[:64]
        ),
    )
    root = ContainerContentItem(name=_code("18748-4", "LN", "Diagnostic imaging report"))
    root.ContentSequence = [
        *observer,
        _text(comment, f"{DISCLAIMER} {DISCLAIMER_DETAIL}"),
        _text(_code("111001", "DCM", "Algorithm Name"), model.name),
        _text(_code("111003", "DCM", "Algorithm Version"), str(model.version)),
        findings,
        *[
            _text(comment, f"Warning ({warning.get('code', 'check')}): {warning.get('message', '')}")
            for warning in analysis.warnings
        ],
        ImageContentItem(name=_code("260753009", "SCT", "Source"), relationship_type="CONTAINS", **source_image),
    ]
    return ComprehensiveSR(
        evidence=[source],
        content=root,
        series_instance_uid=series_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_instance_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        series_description=f"HealthSync {model.name}:{model.version}"[:64],
        coding_schemes=[
            CodingSchemeIdentificationItem(
                designator=CLASS_SCHEME, name="HealthSync model class labels", responsible_organization=MANUFACTURER
            )
        ],
    )


def _finding_text(analysis) -> str:
    condition = next((finding.get("condition") for finding in analysis.findings if finding.get("condition")), None)
    return f"{analysis.predicted_class}" + (
        f" ({condition})" if condition else " (no finding of a catalogued condition)"
    )


def secondary_capture(
    *, source: Dataset, overlay_png: bytes, analysis, series_uid: str, sop_instance_uid: str
) -> Dataset:
    """The Grad-CAM overlay (RGB) as a Secondary Capture image in the source's study."""
    from highdicom.sc import SCImage

    with Image.open(io.BytesIO(overlay_png)) as picture:
        pixels = np.asarray(picture.convert("RGB"), dtype=np.uint8)
    orientation = list(source.get("PatientOrientation", []) or [])
    image = SCImage.from_ref_dataset(
        ref_dataset=source,
        pixel_array=pixels,
        photometric_interpretation="RGB",
        bits_allocated=8,
        coordinate_system="PATIENT",
        series_instance_uid=series_uid,
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=sop_instance_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        patient_orientation=tuple(orientation) if len(orientation) == 2 else ("L", "F"),
        transfer_syntax_uid=ExplicitVRLittleEndian,
        series_description=f"HealthSync Grad-CAM {analysis.model.name}:{analysis.model.version}"[:64],
    )
    if len(orientation) != 2:
        image.PatientOrientation = ""  # Type 2: unknown, as in the source (the placeholder only satisfied highdicom)
    image.Laterality = source.get("Laterality", "")  # Type 2C (paired body parts): as the source, else unknown
    image.BurnedInAnnotation = "NO"
    image.ImageComments = f"{DISCLAIMER} Grad-CAM: where the model looked for {analysis.predicted_class}."[:10240]
    return image


def original_identifiers(analysis) -> dict:
    """The analysis's original DICOM identifiers (decrypted)."""
    return json.loads(analysis.patient_identifiers or "{}")
