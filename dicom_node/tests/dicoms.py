"""Synthetic DICOM instances for the node's tests, made with pydicom from the typical pictures of the
committed default model (``imaging.tests.images``): they pass its checks, so analyses really run."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

from imaging.tests.images import typical_pixels

CR = "1.2.840.10008.5.1.4.1.1.1"
RT_PLAN = "1.2.840.10008.5.1.4.1.1.481.5"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _with_meta(dataset: Dataset) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    dataset.file_meta = meta
    dataset.preamble = b"\x00" * 128
    return dataset


def patient_study(
    *, patient_id: str = "MRN-0001", study_uid: str | None = None, sop_class: str = CR, modality: str = "CR"
) -> Dataset:
    dataset = Dataset()
    dataset.SOPClassUID, dataset.SOPInstanceUID = sop_class, generate_uid()
    dataset.PatientName, dataset.PatientID, dataset.PatientBirthDate, dataset.PatientSex = (
        "Doe^Jane",
        patient_id,
        "19800101",
        "F",
    )
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = study_uid or generate_uid(), generate_uid()
    dataset.StudyDate, dataset.StudyTime, dataset.StudyID, dataset.AccessionNumber = (
        "20250102",
        "101500",
        "S1",
        "ACC-77",
    )
    dataset.ReferringPhysicianName, dataset.Modality, dataset.SeriesNumber, dataset.InstanceNumber = (
        "Who^Doctor",
        modality,
        1,
        1,
    )
    return dataset


def chest_xray(
    *,
    seed: int = 0,
    series_description: str = "PA chest",
    body_part: str = "CHEST",
    size: int = 28,
    series_uid: str | None = None,
    bits: int = 8,
    **study,
) -> Dataset:
    """A CR instance whose pixels look like the default pneumonia model's training images."""
    dataset = patient_study(**study)
    if series_uid:
        dataset.SeriesInstanceUID = series_uid
    dataset.SeriesDescription, dataset.BodyPartExamined, dataset.PatientOrientation = (
        series_description,
        body_part,
        ["A", "F"],
    )
    pixels = typical_pixels(size=size, seed=seed)
    if bits == 16:
        pixels = pixels.astype(np.uint16) * 16
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = bits, bits, bits - 1, 0
    dataset.PixelData = pixels.tobytes()
    return _with_meta(dataset)


def rt_plan() -> Dataset:
    """An instance of a storage SOP class HealthSync does not analyse."""
    dataset = patient_study(sop_class=RT_PLAN, modality="RTPLAN")
    dataset.RTPlanLabel, dataset.RTPlanGeometry = "PLAN", "PATIENT"
    return _with_meta(dataset)


def encoded(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write(dataset: Dataset, path: Path) -> Path:
    path.write_bytes(encoded(dataset))
    return path


def file_meta_then(body: bytes, path: Path, *, sop_class: str = CR) -> Path:
    """A file with a valid preamble and file meta group followed by ``body`` as its "data set"."""
    dataset = _with_meta(patient_study(sop_class=sop_class))
    data = encoded(dataset)
    meta_end = 132 + 12 + int.from_bytes(data[140:144], "little")  # (0002,0000) group length, explicit VR little endian
    path.write_bytes(data[:meta_end] + body)
    return path
