"""Reading an uploaded study: the type from its content, size and decompression-bomb guards,
DICOM decoding and de-identification, and the modality check against the chosen model.

Everything a caller gets back is safe to keep: PNG/JPEG bytes as uploaded, DICOM bytes with
the patient's identifiers removed (DICOM PS3.15 Annex E, Basic Application Level
Confidentiality Profile); the original identifiers come back separately, for encrypted storage.
"""

import io
import struct
import subprocess
import sys
import warnings
import zipfile
from dataclasses import dataclass, field

from django.conf import settings
from PIL import Image

from healthsync.errors import DomainError
from ml_models.preprocessing import dicom_pixels, only_gdcm_decodes

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
# Starts of compressed codestreams: JPEG (SOI and a marker), JPEG 2000 (SOC, SIZ) and its JP2 box.
COMPRESSED_MAGICS = (JPEG_MAGIC, b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0cjP  \r\n\x87\n")
# Pixel Data (PS3.5 8.1.1) holds samples of 1 bit or of whole bytes; the IODs a model reads use at most 32.
BITS_ALLOCATED = {1, 8, 16, 32}
# Sequences nested deeper than any real study (structured reports nest a dozen levels) are refused
# before pydicom walks them: its recursive walk fails on deep nesting, and formatting the nested
# errors takes minutes.
MAX_SEQUENCE_DEPTH = 32

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
    """An upload that passed the checks. Its pixels were decoded to check them, and not kept: the
    worker decodes the stored file (32 decoded 2048 x 2048 images would hold 128 MB in the request)."""

    kind: str  # "png", "jpeg" or "dicom"
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
    if _holds_zip(data):
        raise _refuse(f"{name} also holds a ZIP archive (a polyglot file); upload the image alone.", "polyglot")
    if data.startswith(PNG_MAGIC):
        return _read_picture(data, "png", name)
    if data.startswith(JPEG_MAGIC):
        return _read_picture(data, "jpeg", name)
    if len(data) >= 132 and data[128:132] == b"DICM":
        return _read_dicom(data, name)
    raise _refuse(f"{name} is not a PNG, JPEG or DICOM file.", "unsupported_type")


def _holds_zip(data: bytes) -> bool:
    """Whether a ZIP archive (also a JAR, an Office document) is readable from the file: its
    directory sits at the end, so an image or DICOM can carry one and stay valid."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.namelist())
    except Exception:  # not an archive, however malformed
        return False


def _png_end(data: bytes) -> int | None:
    """The offset just after a PNG's IEND chunk, or None when it has none."""
    offset = len(PNG_MAGIC)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        offset += 12 + length
        if kind == b"IEND":
            return offset if offset <= len(data) else None
    return None


def _jpeg_end(data: bytes) -> int | None:
    """The offset just after a JPEG's EOI marker (ITU-T T.81 B.2), or None when it has none."""
    offset = 2
    while offset + 1 < len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
        elif marker == 0xD9:
            return offset + 2
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            offset += 2
        else:
            offset += 2 + int.from_bytes(data[offset + 2:offset + 4], "big")
            if marker == 0xDA:  # entropy-coded data runs to the next marker (not a stuffed 0xFF00 or a restart)
                while True:
                    offset = data.find(b"\xff", offset)
                    if offset < 0 or offset + 1 >= len(data):
                        return None
                    following = data[offset + 1]
                    if following == 0x00 or 0xD0 <= following <= 0xD7:
                        offset += 2
                    elif following == 0xFF:
                        offset += 1
                    else:
                        break
    return None


def _read_picture(data: bytes, kind: str, name: str) -> Study:
    limit = settings.HEALTHSYNC_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.upper()]) as picture:
                width, height = picture.size
                if width * height > limit:
                    raise _refuse(f"{name} declares {width} x {height} pixels; the limit is {limit:,}.", "image_too_large")
                _decode_to_check(picture, width, height)
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse(f"{name} is too large to decode safely.", "image_too_large") from None
    except Exception as exc:  # UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error...
        raise _refuse(f"{name} is corrupt or truncated ({exc.__class__.__name__}).", "corrupt_image") from None
    end = (_png_end if kind == "png" else _jpeg_end)(data)
    if end is None:
        raise _refuse(f"{name} is corrupt or truncated (no end-of-image marker).", "corrupt_image")
    # Bytes after the image are how a file is made both an image and a script, archive or document;
    # zero padding is all a real encoder leaves there.
    if data[end:].strip(b"\x00"):
        raise _refuse(f"{name} has {len(data) - end} bytes after the end of the {kind.upper()} image (a polyglot file); upload the image alone.", "polyglot")
    return Study(kind=kind, stored=data, metadata={"width": width, "height": height})


def _decode_to_check(picture: Image.Image, width: int, height: int) -> None:
    """Decode the whole picture, so a corrupt or truncated one is refused here (the worker decodes it
    again, from the stored file). A JPEG is decoded at 1/8 scale (libjpeg's DCT scaling): every
    entropy-coded byte is still read and checked, and only the inverse DCT is done smaller, 3-4
    times faster for a large image (2048 x 2048: 10 -> 2.6 ms). PNG has no such mode: it is decoded
    in full."""
    if picture.format == "JPEG":
        picture.draft(picture.mode, (max(1, width // 8), max(1, height // 8)))
    picture.load()


# Decodes a DICOM file read from stdin; exits 0 when its pixels decode.
_DECODE_PROBE = "import io, sys, pydicom; from ml_models.preprocessing import dicom_pixels; dicom_pixels(pydicom.dcmread(io.BytesIO(sys.stdin.buffer.read())))"
DECODE_PROBE_TIMEOUT_S = 60


def _decoding_failure_in_a_child_process(data: bytes) -> str | None:
    """Decode the file in a separate Python process first (None when it decodes, else why not): GDCM
    answers some malformed streams by aborting the process it runs in, and it is the only
    permissively licensed decoder for JPEG Lossless, JPEG Extended and JPEG-LS."""
    try:
        probe = subprocess.run(  # noqa: S603  (our interpreter and a fixed script; the file goes to stdin)
            [sys.executable, "-c", _DECODE_PROBE], input=data, capture_output=True, timeout=DECODE_PROBE_TIMEOUT_S,
            cwd=settings.BASE_DIR, check=False,
        )
    except subprocess.TimeoutExpired:
        return f"decoding took over {DECODE_PROBE_TIMEOUT_S} s"
    if probe.returncode == 0:
        return None
    last = (probe.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
    return last[:120] if probe.returncode > 0 and last else f"the decoder crashed (signal {-probe.returncode})"


def _read_dicom(data: bytes, name: str) -> Study:
    import pydicom

    # Any exception while parsing an uploaded DICOM is the file's fault (pydicom raises a dozen
    # types on malformed input: zlib.error for a lying deflated syntax, struct.error, KeyError...).
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        too_deep = _sequences_deeper_than(dataset, MAX_SEQUENCE_DEPTH)
    except Exception as exc:
        raise _refuse(f"{name} is not a readable DICOM file ({exc.__class__.__name__}).", "corrupt_image") from None
    if too_deep:
        raise _refuse(f"{name} nests sequences more than {MAX_SEQUENCE_DEPTH} levels deep; it is not a study we can read.", "corrupt_image")
    if "PixelData" not in dataset:
        raise _refuse(f"{name} is a DICOM object without pixel data (not an image).", "no_pixel_data")
    try:
        rows, columns = int(getattr(dataset, "Rows", 0) or 0), int(getattr(dataset, "Columns", 0) or 0)
        frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
        samples = int(getattr(dataset, "SamplesPerPixel", 1) or 1)
        bits = int(getattr(dataset, "BitsAllocated", 0) or 0)
    except Exception:  # a value that does not parse as a number
        raise _refuse(f"{name} has a malformed image header (rows, columns, frames or bits).", "corrupt_image") from None
    if min(rows, columns, frames, samples) < 1:
        raise _refuse(f"{name} declares {frames} frame(s) of {rows} x {columns} pixels with {samples} sample(s); that is no image.", "corrupt_image")
    if rows * columns * frames > settings.HEALTHSYNC_MAX_IMAGE_PIXELS:
        raise _refuse(f"{name} declares {frames} frame(s) of {rows} x {columns}; too large to decode safely.", "image_too_large")
    if bits not in BITS_ALLOCATED:
        raise _refuse(f"{name} declares {bits} bits allocated per sample; pixel data holds 1, 8, 16 or 32.", "undecodable_pixels")
    _check_pixel_data_fits_transfer_syntax(dataset, name, rows=rows, columns=columns, frames=frames, bits=bits)
    if only_gdcm_decodes(dataset):
        failure = _decoding_failure_in_a_child_process(data)
        if failure:
            raise _refuse(f"{name}: its pixel data cannot be decoded ({failure}).", "undecodable_pixels")
    try:
        dicom_pixels(dataset)  # decoded to check it decodes; the worker decodes the stored file
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # any decoder failure, even a Rust decoder's panic (pyo3's PanicException is no Exception)
        raise _refuse(f"{name}: its pixel data cannot be decoded ({exc.__class__.__name__}: {str(exc)[:120]}).", "undecodable_pixels") from None
    try:
        identifiers, stored = _de_identified(dataset)
    except Exception as exc:  # elements that parse but cannot be written back (a trailer read as elements)
        raise _refuse(f"{name} holds elements that cannot be kept ({exc.__class__.__name__}).", "corrupt_image") from None
    metadata = {
        "modality": str(getattr(dataset, "Modality", "") or ""),
        "body_part": str(getattr(dataset, "BodyPartExamined", "") or ""),
        "study_uid": str(getattr(dataset, "StudyInstanceUID", "") or ""),
        "series_uid": str(getattr(dataset, "SeriesInstanceUID", "") or ""),
        "transfer_syntax": str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "") or ""),
        "rows": rows, "columns": columns, "frames": frames,
    }
    return Study(kind="dicom", stored=stored, metadata=metadata, identifiers=identifiers)


def _sequences_deeper_than(dataset, limit: int) -> bool:
    """Whether sequences nest deeper than ``limit``, found without recursion (items are parsed as reached)."""
    pending = [(dataset, 0)]
    while pending:
        current, depth = pending.pop()
        for element in current:
            if element.VR == "SQ":
                if depth + 1 > limit:
                    return True
                pending.extend((item, depth + 1) for item in element.value)
    return False


def _check_pixel_data_fits_transfer_syntax(dataset, name: str, *, rows: int, columns: int, frames: int, bits: int) -> None:
    """Refuse pixel data that is not what the transfer syntax says, before any decoder sees it.

    Native (uncompressed) pixel data has at least the length the header implies (PS3.5 8.1.1;
    some writers pad it further, tolerated as pydicom does) and is not a compressed codestream.
    Encapsulated pixel data is encapsulated, and its first frame's codestream declares the
    header's rows and columns, so no decoder allocates for an image larger than the
    decompression-bomb guard allowed.
    """
    from pydicom.pixels.utils import get_expected_length
    from pydicom.uid import UID

    syntax = UID(str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "") or ""))
    if not syntax.is_transfer_syntax:
        raise _refuse(f"{name} names an unknown transfer syntax ({str(syntax)[:64] or 'none'}).", "undecodable_pixels")
    element = dataset["PixelData"]
    value = element.value or b""
    if not syntax.is_encapsulated:
        if element.is_undefined_length:
            raise _refuse(f"{name} says its pixel data is uncompressed ({syntax.name}) but holds compressed (encapsulated) frames.", "undecodable_pixels")
        try:
            expected = get_expected_length(dataset, unit="bytes")
        except Exception:  # elements missing: the decoder names them
            expected = 0
        if len(value) < expected:
            raise _refuse(
                f"{name} has {len(value)} bytes of pixel data; {frames} frame(s) of {rows} x {columns} at {bits} bits "
                f"uncompressed ({syntax.name}) take {expected}.", "undecodable_pixels")
        if value.startswith(COMPRESSED_MAGICS):
            raise _refuse(f"{name} says its pixel data is uncompressed ({syntax.name}) but it holds a compressed image.", "undecodable_pixels")
        return
    if not element.is_undefined_length:
        raise _refuse(f"{name} says its pixel data is compressed ({syntax.name}) but holds uncompressed (native) pixels.", "undecodable_pixels")
    size = _codestream_size(_first_fragment(value))
    if size is not None and size != (rows, columns):
        raise _refuse(
            f"{name}: its compressed frame is {size[0]} x {size[1]} pixels but the header declares {rows} x {columns}.",
            "undecodable_pixels")


def _first_fragment(value: bytes) -> bytes:
    from pydicom.encaps import generate_fragments, parse_basic_offsets

    try:
        stream = io.BytesIO(value)
        parse_basic_offsets(stream)
        return next(generate_fragments(stream), b"")
    except Exception:  # not encapsulated at all: the decoder will say so
        return b""


def _codestream_size(fragment: bytes) -> tuple[int, int] | None:
    """(rows, columns) from the start of a JPEG, JPEG-LS (SOF) or JPEG 2000 (SIZ) codestream; None for others (RLE)."""
    if fragment.startswith(b"\xff\xd8"):
        offset = 2
        while offset + 9 <= len(fragment) and fragment[offset] == 0xFF:
            marker = fragment[offset + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) or marker == 0xF7:  # SOFn, JPEG-LS SOF55
                return struct.unpack(">HH", fragment[offset + 5:offset + 9])
            offset += 2 + int.from_bytes(fragment[offset + 2:offset + 4], "big")
        return None
    start = fragment.find(b"\xff\x4f\xff\x51", 0, 4096)  # a bare codestream, or one inside a JP2 file's boxes
    if start >= 0 and start + 24 <= len(fragment):
        width, height, left, top = struct.unpack(">IIII", fragment[start + 8:start + 24])
        return height - top, width - left
    return None


def _de_identified(dataset) -> tuple[dict, bytes]:
    """The original identifiers, and the DICOM as kept: PS3.15 Annex E basic profile applied."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import generate_uid

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
    dataset.DeidentificationMethod = "HealthSync PS3.15 Annex E basic profile"  # LO: 64 characters at most
    method = Dataset()
    method.CodeValue, method.CodingSchemeDesignator, method.CodeMeaning = "113100", "DCM", "Basic Application Confidentiality Profile"
    dataset.DeidentificationMethodCodeSequence = Sequence([method])
    # The preamble is free for applications (PS3.10 7.1), which makes a DICOM that is also an
    # executable (CVE-2019-11687); the copy kept has an empty one.
    dataset.preamble = b"\x00" * 128
    stored = io.BytesIO()
    dataset.save_as(stored, enforce_file_format=True)
    return identifiers, stored.getvalue()


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
