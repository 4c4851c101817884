"""Database rows of the DICOM node for tests that need a study HealthSync has analysed without running a
model: a received instance, its finished analysis (with a Grad-CAM overlay) and its result delivery."""

from __future__ import annotations

import io
import json
import uuid

from django.core.files.base import ContentFile
from PIL import Image
from pydicom.uid import generate_uid

from dicom_node import services
from dicom_node.models import AssociationStatus, DicomAssociation, InstanceStatus, ReceivedInstance, ResultDelivery
from imaging.models import AnalysisStatus, ImageAnalysis, MLModel

from .dicoms import CR


def analysed_study(
    hospital, *, patient_id: str = "MRN-0001", study_date: str = "20250102", gradcam: bool = True
) -> dict:
    """A CR instance of ``hospital`` received over DICOMweb and analysed (pneumonia 80 %), with its
    results due: the study's, the report's series' and the report's UIDs, and the rows."""
    identifiers = {
        "PatientName": "Doe^Jane",
        "PatientID": patient_id,
        "PatientBirthDate": "19800101",
        "PatientSex": "F",
        "AccessionNumber": "ACC-77",
        "StudyInstanceUID": generate_uid(),
        "SeriesInstanceUID": generate_uid(),
        "SOPInstanceUID": generate_uid(),
        "StudyDate": study_date,
        "StudyTime": "101500",
        "StudyID": "S1",
        "SeriesDescription": "PA chest",
    }
    association = DicomAssociation.objects.create(
        hospital=hospital,
        calling_ae="STOW-RS",
        called_ae="HEALTHSYNC",
        host="127.0.0.1",
        status=AssociationStatus.RELEASED,
    )
    instance = ReceivedInstance.objects.create(
        hospital=hospital,
        association=association,
        status=InstanceStatus.ANALYSING,
        sop_class_uid=CR,
        modality="CR",
        body_part="CHEST",
        patient_identifiers=json.dumps(identifiers),
        **services.search_keys(hospital.pk, identifiers),
    )
    model = (
        MLModel.objects.filter(name="pneumoniamnist-basic_cnn").order_by("version").first() or MLModel.objects.first()
    )
    analysis = ImageAnalysis.objects.create(
        hospital=hospital,
        batch=uuid.uuid4(),
        dataset=model.dataset,
        model=model,
        image=f"studies/{hospital.pk}/none.dcm",
        image_kind="dicom",
        status=AnalysisStatus.DONE,
        patient_identifiers=json.dumps(identifiers),
        predictions=[{"class": "pneumonia", "probability": 0.8}, {"class": "normal", "probability": 0.2}],
        predicted_class="pneumonia",
    )
    if gradcam:
        overlay = io.BytesIO()
        Image.new("RGB", (32, 32), (200, 40, 40)).save(overlay, format="PNG")
        analysis.gradcam.save("gradcam.png", ContentFile(overlay.getvalue()))
    instance.analyses.add(analysis)
    services.deliveries_create(analysis_ids=[analysis.pk])
    delivery = ResultDelivery.objects.get(analysis=analysis)
    return {
        "dicom_study": identifiers["StudyInstanceUID"],
        "dicom_series": delivery.series_uid,
        "dicom_instance": delivery.report_uid,
        "identifiers": identifiers,
        "instance": instance,
        "delivery": delivery,
    }
