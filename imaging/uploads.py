"""Reading an uploaded study: the type from its content, size and decompression-bomb guards,
DICOM decoding and de-identification, and the modality check against the chosen model.

Everything a caller gets back is safe to keep: PNG/JPEG bytes as uploaded, DICOM bytes with
the patient's identifiers removed (DICOM PS3.15 Annex E, Basic Application Level
Confidentiality Profile); the original identifiers come back separately, for encrypted storage.
"""

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from healthsync.errors import DomainError
from ml_models.preprocessing import dicom_pixels, read_image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"

# PS3.15 Annex E basic profile: attributes removed ("X") or emptied ("Z") that identify the patient,
# the people involved or the institution. UIDs are replaced below.
IDENTIFYING_KEYWORDS = [
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "PatientSex", "PatientAge", "PatientSize",
    "PatientWeight", "PatientAddress", "PatientTelephoneNumbers", "PatientMotherBirthName", "OtherPatientIDs",
    "OtherPatientNames", "OtherPatientIDsSequence", "PatientComments", "EthnicGroup", "MilitaryRank",
    "MedicalRecordLocator", "IssuerOfPatientID", "ReferringPhysicianName", "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers", "PerformingPhysicianName", "NameOfPhysiciansReadingStudy",
    "OperatorsName", "PhysiciansOfRecord", "RequestingPhysician", "InstitutionName", "InstitutionAddress",
    "InstitutionalDepartmentName", "StationName", "AccessionNumber", "StudyID", "StudyDescription",
    "SeriesDescription", "DeviceSerialNumber", "AdmittingDiagnosesDescription", "AdditionalPatientHistory",
    "RequestAttributesSequence", "ContentCreatorName", "InstanceCreatorUID",
]
KEPT_IDENTIFIERS = ["PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID"]
REPLACED_UIDS = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"]

# Which DICOM modalities (PS3.3 C.7.3.1.1.1) may go to a model of each imaging modality.
DICOM_MODALITIES = {
    "chest_xray": {"CR", "DX", "DR", "RG"},
    "msk_xray": {"CR", "DX", "DR", "RG"},
    "brain_mri": {"MR"},
    "ultrasound": {"US"},
    "fundus": {"OP", "XC", "OPT"},
    "dermoscopy": {"XC", "VL", "OT"},
}


class UploadRefused(DomainError):
    code = "invalid_image"


@dataclass
class Study:
    kind: str  # "png", "jpeg" or "dicom"
    pixels: np.ndarray  # uint8 display pixels (H x W or H x W x 3)
    stored: bytes  # what is kept: the upload, or the de-identified DICOM
    metadata: dict = field(default_factory=dict)  # modality, body part, (replaced) study and series UIDs, size
    identifiers: dict = field(default_factory=dict)  # the DICOM's original identifiers, for encrypted fields


def max_upload_bytes() -> int:
    return settings.HEALTHSYNC_MAX_UPLOAD_MB * 1024 * 1024


def _refuse(message: str, code: str = "invalid_image") -> UploadRefused:
    return UploadRefused(message, code=code, fields={"image": [message]})


def read_study(data: bytes, *, name: str = "image") -> Study:
    """Check and decode one uploaded file, deciding its type by content (never by name)."""
    if not data:
        raise _refuse(f"{name} is empty.", "empty_image")
    if len(data) > max_upload_bytes():
        raise _refuse(f"{name} is larger than {settings.HEALTHSYNC_MAX_UPLOAD_MB} MB.", "image_too_large")
    if data.startswith(PNG_MAGIC):
        return _read_picture(data, "png", name)
    if data.startswith(JPEG_MAGIC):
        return _read_picture(data, "jpeg", name)
    if len(data) >= 132 and data[128:132] == b"DICM":
        return _read_dicom(data, name)
    raise _refuse(f"{name} is not a PNG, JPEG or DICOM file.", "unsupported_type")


def _read_picture(data: bytes, kind: str, name: str) -> Study:
    limit = settings.HEALTHSYNC_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as picture:
                width, height = picture.size
                if width * height > limit:
                    raise _refuse(f"{name} declares {width} x {height} pixels; the limit is {limit:,}.", "image_too_large")
                picture.load()
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(f"{name} is too large to decode safely.", "image_too_large") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse(f"{name} is corrupt or truncated ({exc.__class__.__name__}).", "corrupt_image") from None
    pixels = read_image(data)
    return Study(kind=kind, pixels=pixels, stored=data, metadata={"width": width, "height": height})


def _read_dicom(data: bytes, name: str) -> Study:
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.uid import generate_uid

    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise _refuse(f"{name} is not a readable DICOM file ({exc.__class__.__name__}).", "corrupt_image") from None
    if "PixelData" not in dataset:
        raise _refuse(f"{name} is a DICOM object without pixel data (not an image).", "no_pixel_data")
    try:
        rows, columns = int(getattr(dataset, "Rows", 0) or 0), int(getattr(dataset, "Columns", 0) or 0)
        frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        raise _refuse(f"{name} has a malformed image header (rows, columns or frames).", "corrupt_image") from None
    if rows * columns * frames > settings.HEALTHSYNC_MAX_IMAGE_PIXELS:
        raise _refuse(f"{name} declares {frames} frame(s) of {rows} x {columns}; too large to decode safely.", "image_too_large")
    try:
        pixels = dicom_pixels(dataset)
    except Exception as exc:  # any decoder failure: a missing plugin, a lying transfer syntax, truncated data
        raise _refuse(f"{name}: its pixel data cannot be decoded ({exc.__class__.__name__}: {str(exc)[:120]}).", "undecodable_pixels") from None

    identifiers = {keyword: str(dataset.get(keyword, "") or "") for keyword in KEPT_IDENTIFIERS if keyword in dataset}
    for keyword in IDENTIFYING_KEYWORDS:
        if keyword in dataset:
            delattr(dataset, keyword)
    dataset.remove_private_tags()
    for keyword in REPLACED_UIDS:
        if keyword in dataset:
            setattr(dataset, keyword, generate_uid())
    if "SOPInstanceUID" in dataset and hasattr(dataset, "file_meta"):
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "HealthSync: DICOM PS3.15 Annex E basic profile (identifiers removed, UIDs replaced, private tags removed)"
    stored = io.BytesIO()
    dataset.save_as(stored, enforce_file_format=True)
    metadata = {
        "modality": str(getattr(dataset, "Modality", "") or ""),
        "body_part": str(getattr(dataset, "BodyPartExamined", "") or ""),
        "study_uid": str(getattr(dataset, "StudyInstanceUID", "") or ""),
        "series_uid": str(getattr(dataset, "SeriesInstanceUID", "") or ""),
        "transfer_syntax": str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "") or ""),
        "rows": rows, "columns": columns, "frames": frames,
    }
    return Study(kind="dicom", pixels=pixels, stored=stored.getvalue(), metadata=metadata, identifiers=identifiers)


def _modality_key(model_modality: str) -> str:
    """A model card's modality (``chest X-ray``, or the catalogue key ``chest_xray``) as a catalogue key."""
    from ml_models.training import MODALITY_NAMES

    by_name = {name.lower(): key for key, name in MODALITY_NAMES.items()}
    return by_name.get(model_modality.lower(), model_modality)


def check_modality(study: Study, *, model_modality: str, model_name: str) -> None:
    """Refuse a DICOM whose modality cannot be what the model reads (a CT series sent to a chest X-ray model)."""
    if study.kind != "dicom":
        return
    model_modality = _modality_key(model_modality)
    allowed = DICOM_MODALITIES.get(model_modality)
    modality = study.metadata.get("modality", "")
    if allowed and modality and modality not in allowed:
        raise UploadRefused(
            f"This is a {modality} study; {model_name} reads {model_modality.replace('_', ' ')} images ({', '.join(sorted(allowed))}).",
            code="modality_mismatch", fields={"image": [f"Modality {modality} does not fit the model."]},
        )
