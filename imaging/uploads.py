"""Reading an uploaded study: the type from its content, size and decompression-bomb guards,
DICOM decoding and de-identification, and the modality check against the chosen model.

Everything a caller gets back is safe to keep: PNG/JPEG image data as uploaded without its
metadata (text, EXIF, comments), DICOM bytes with the patient's identifiers removed (DICOM PS3.15
Annex E, Basic Application Level Confidentiality Profile); the original identifiers come back
separately, for encrypted storage.
"""

import io
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from PIL import Image

from healthsync.errors import DomainError
from ml_models.preprocessing import dicom_pixels, only_gdcm_decodes, picture_pixels

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

# PS3.15 Annex E, Table E.1-1 (Basic Application Level Confidentiality Profile), in full: the
# table's tags and actions as dicom-anonymizer (KitwareMedical, BSD) transcribes the 2026c edition.
# Its action codes: X remove, Z empty, D replace with a dummy, U replace the UID; a code with
# several letters allows any of them, and the strictest one here is applied (remove before empty
# before replace). Retain options (Table E.1-1's columns for retaining dates, device or institution
# identity, safe private attributes...): none.
PROFILE_EDITION = "dicomfields_2026c"
# X in Table E.1-1 but missing from that transcription.
PROFILE_SUPPLEMENT = {
    "PatientBirthDateInAlternativeCalendar",
    "PatientDeathDateInAlternativeCalendar",
    "PatientAlternativeCalendar",
    "StorageMediaFileSetID",
}
# The dummy value of a replaced (D) text attribute.
DUMMY = "ANONYMIZED"
DUMMY_VRS = {"SH", "LO", "CS", "AE", "UC"}


def _profile_actions() -> dict[int, str]:
    """Each tag of Table E.1-1 (group << 16 | element) with its action: remove, empty, replace, uid."""
    from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
    from pydicom.datadict import tag_for_keyword

    table = dicom_anonymization_database_selector(PROFILE_EDITION)
    actions = {}
    for category, tags in table.items():
        if category == "ALL_TAGS":
            continue
        action = {"X": "remove", "Z": "empty", "D": "replace", "U": "uid"}[category[0]]
        for tag in tags:
            if len(tag) == 2:  # the masked ones are the repeating groups 50xx and 60xx, removed whole below
                actions[(tag[0] << 16) | tag[1]] = action
    actions.update({tag_for_keyword(keyword): "remove" for keyword in PROFILE_SUPPLEMENT})
    return actions


PROFILE_ACTIONS = _profile_actions()
# Value representations removed wherever they occur (in sequences too): person names and free text.
IDENTIFYING_VRS = {"PN", "LT", "ST", "UT"}
# Dates and times are emptied wherever they occur (the profile's "Z"/"D"); the element stays.
DATE_VRS = {"DA", "DT", "TM"}
# File meta elements that name the sending application (they name the hospital's machines).
IDENTIFYING_META_KEYWORDS = [
    "SourceApplicationEntityTitle",
    "SendingApplicationEntityTitle",
    "ReceivingApplicationEntityTitle",
    "PrivateInformationCreatorUID",
    "PrivateInformation",
]
KEPT_IDENTIFIERS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
)
# Sequence items (item tags, little and big endian) a file may hold: a study has hundreds; millions
# of empty ones cost pydicom minutes and gigabytes to read, so they are counted in the bytes first.
MAX_SEQUENCE_ITEMS = 100_000
ITEM_TAGS = (b"\xfe\xff\x00\xe0", b"\xff\xfe\xe0\x00")
# Elements at the top level of a data set: a study has hundreds, a structured report a few thousand.
MAX_TOP_LEVEL_ELEMENTS = 20_000

# Which DICOM modalities (PS3.3 C.7.3.1.1.1) may go to a model of each imaging modality.
DICOM_MODALITIES = {
    "chest_xray": {"CR", "DX", "DR", "RG"},
    "msk_xray": {"CR", "DX", "DR", "RG"},
    "brain_mri": {"MR"},
    "ultrasound": {"US"},
    "fundus": {"OP", "XC", "OPT"},
    "dermoscopy": {"XC", "VL", "OT"},
}


PREVIEW_SIZE = 256


class UploadRefused(DomainError):
    code = "invalid_image"


@dataclass
class Study:
    """An upload that passed the checks. Its pixels were decoded to check them, and not kept: the
    worker decodes the stored file (32 decoded 2048 x 2048 images would hold 128 MB in the request)."""

    kind: str  # "png", "jpeg" or "dicom"
    stored: bytes  # what is kept: the picture without its metadata, or the de-identified DICOM
    metadata: dict = field(default_factory=dict)  # modality, body part, (replaced) study and series UIDs, size
    identifiers: dict = field(default_factory=dict)  # the DICOM's original identifiers, for encrypted fields
    # PNG/JPEG: the decoded picture at most PREVIEW_SIZE px a side (uint8), for the checks that it
    # fits the model (imaging.suitability); a few hundred kilobytes at most.
    preview: Any = None


def max_upload_bytes() -> int:
    return settings.HEALTHSYNC_MAX_UPLOAD_MB * 1024 * 1024


def _refuse(message: str, code: str = "invalid_image") -> UploadRefused:
    return UploadRefused(message, code=code, fields={"image": [message]})


def read_study(data: bytes, *, name: str = "image", identifiers: tuple[str, ...] = KEPT_IDENTIFIERS) -> Study:
    """Check and decode one uploaded file, deciding its type by content (never by name).
    ``identifiers``: the DICOM attributes (keywords) whose original values come back in
    ``Study.identifiers`` (for encrypted storage) before de-identification removes them."""
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
        return _read_dicom(data, name, identifiers)
    raise _refuse(f"{name} is not a PNG, JPEG or DICOM file.", "unsupported_type")


def _holds_zip(data: bytes) -> bool:
    """Whether a ZIP archive (also a JAR, an Office document) is readable from the file: its
    directory sits at the end, so an image or DICOM can carry one and stay valid."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return bool(archive.namelist())
    except Exception:  # not an archive, however malformed
        return False


def _png_chunks(data: bytes):
    """(type, start, end) of each chunk of a PNG (PNG 5.3), up to and with IEND; stops early at a
    chunk that runs past the data."""
    offset = len(PNG_MAGIC)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        start, offset = offset, offset + 12 + length
        if offset > len(data):
            return
        yield kind, start, offset
        if kind == b"IEND":
            return


def _png_end(data: bytes) -> int | None:
    """The offset just after a PNG's IEND chunk, or None when it has none."""
    return next((end for kind, _, end in _png_chunks(data) if kind == b"IEND"), None)


def _jpeg_segments(data: bytes):
    """(marker, start, end) of each marker segment of a JPEG (ITU-T T.81 B.1), a scan's
    entropy-coded data with its SOS segment, up to and with EOI; stops early when the data
    is malformed or ends before EOI."""
    yield 0xD8, 0, 2
    offset = 2
    while offset + 1 < len(data):
        if data[offset] != 0xFF:
            return
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        start = offset
        if marker == 0xD9:
            yield marker, start, offset + 2
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            offset += 2
        else:
            offset += 2 + int.from_bytes(data[offset + 2 : offset + 4], "big")
            if marker == 0xDA:  # entropy-coded data runs to the next marker (not a stuffed 0xFF00 or a restart)
                while True:
                    offset = data.find(b"\xff", offset)
                    if offset < 0 or offset + 1 >= len(data):
                        return
                    following = data[offset + 1]
                    if following == 0x00 or 0xD0 <= following <= 0xD7:
                        offset += 2
                    elif following == 0xFF:
                        offset += 1
                    else:
                        break
        yield marker, start, offset


def _jpeg_end(data: bytes) -> int | None:
    """The offset just after a JPEG's EOI marker, or None when it has none."""
    return next((end for marker, _, end in _jpeg_segments(data) if marker == 0xD9), None)


# What a picture keeps: what decoding and colour need. Text, EXIF (camera serial numbers, GPS,
# dates, the photographer's and often the patient's name), XMP and comments are dropped.
PNG_KEPT_CHUNKS = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"pHYs",
    b"bKGD",
}
JPEG_KEPT_APPLICATION_SEGMENTS = {0xE0: (b"JFIF\x00", b"JFXX\x00"), 0xE2: (b"ICC_PROFILE\x00",), 0xEE: (b"Adobe",)}


def _without_metadata(data: bytes, kind: str) -> bytes:
    """The picture as kept: its image data whole, its metadata dropped."""
    if kind == "png":
        return PNG_MAGIC + b"".join(
            data[start:end] for chunk, start, end in _png_chunks(data) if chunk in PNG_KEPT_CHUNKS
        )
    kept = []
    for marker, start, end in _jpeg_segments(data):
        if 0xE0 <= marker <= 0xEF:  # APPn: kept only for the decoder's own (JFIF, ICC colour, Adobe colour transform)
            if not data[start + 4 : end].startswith(JPEG_KEPT_APPLICATION_SEGMENTS.get(marker, ())):
                continue
        elif marker == 0xFE:  # comment
            continue
        kept.append(data[start:end])
    return b"".join(kept)


def _read_picture(data: bytes, kind: str, name: str) -> Study:
    limit = settings.HEALTHSYNC_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.upper()]) as picture:
                width, height = picture.size
                if width * height > limit:
                    raise _refuse(
                        f"{name} declares {width} x {height} pixels; the limit is {limit:,}.", "image_too_large"
                    )
                _decode_to_check(picture, width, height)
                picture.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.BOX)
                preview = picture_pixels(picture)
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
        raise _refuse(
            f"{name} has {len(data) - end} bytes after the end of the {kind.upper()} image (a polyglot file); upload "
            "the image alone.",
            "polyglot",
        )
    return Study(
        kind=kind,
        stored=_without_metadata(data[:end], kind),
        metadata={"width": width, "height": height},
        preview=preview,
    )


def _decode_to_check(picture: Image.Image, width: int, height: int) -> None:
    """Decode the whole picture, so a corrupt or truncated one is refused here (the worker decodes it
    again, from the stored file). A JPEG is decoded at 1/8 scale (libjpeg's DCT scaling): every
    entropy-coded byte is still read and checked, and only the inverse DCT is done smaller, 3-4
    times faster for a large image (2048 x 2048: 10 -> 2.6 ms), but not below the preview's size
    (``PREVIEW_SIZE``). PNG has no such mode: it is decoded in full."""
    if picture.format == "JPEG":  # at least PREVIEW_SIZE a side where the picture has it, for the preview
        picture.draft(
            picture.mode, (min(width, max(width // 8, PREVIEW_SIZE)), min(height, max(height // 8, PREVIEW_SIZE)))
        )
    picture.load()


# Decodes a DICOM file read from stdin; exits 0 when its pixels decode.
_DECODE_PROBE = (
    "import io, sys, pydicom; from ml_models.preprocessing import dicom_pixels; "
    "dicom_pixels(pydicom.dcmread(io.BytesIO(sys.stdin.buffer.read())))"
)
DECODE_PROBE_TIMEOUT_S = 60


def _decoding_failure_in_a_child_process(data: bytes) -> str | None:
    """Decode the file in a separate Python process first (None when it decodes, else why not): GDCM
    answers some malformed streams by aborting the process it runs in, and it is the only
    permissively licensed decoder for JPEG Lossless, JPEG Extended and JPEG-LS."""
    try:
        probe = subprocess.run(  # noqa: S603  (our interpreter and a fixed script; the file goes to stdin)
            [sys.executable, "-c", _DECODE_PROBE],
            input=data,
            capture_output=True,
            timeout=DECODE_PROBE_TIMEOUT_S,
            cwd=settings.BASE_DIR,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"decoding took over {DECODE_PROBE_TIMEOUT_S} s"
    if probe.returncode == 0:
        return None
    last = (probe.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
    return last[:120] if probe.returncode > 0 and last else f"the decoder crashed (signal {-probe.returncode})"


def _read_dicom(data: bytes, name: str, kept: tuple[str, ...] = KEPT_IDENTIFIERS) -> Study:
    import pydicom

    if sum(data.count(tag) for tag in ITEM_TAGS) > MAX_SEQUENCE_ITEMS:
        raise _refuse(
            f"{name} holds more than {MAX_SEQUENCE_ITEMS:,} sequence items; it is not a study we can read.",
            "corrupt_image",
        )
    _check_data_set_size(data, name)
    # Any exception while parsing an uploaded DICOM is the file's fault (pydicom raises a dozen
    # types on malformed input: zlib.error for a lying deflated syntax, struct.error, KeyError...).
    try:
        dataset = pydicom.dcmread(io.BytesIO(data))
        too_deep = _sequences_deeper_than(dataset, MAX_SEQUENCE_DEPTH)
    except Exception as exc:
        raise _refuse(f"{name} is not a readable DICOM file ({exc.__class__.__name__}).", "corrupt_image") from None
    if too_deep:
        raise _refuse(
            f"{name} nests sequences more than {MAX_SEQUENCE_DEPTH} levels deep; it is not a study we can read.",
            "corrupt_image",
        )
    if "PixelData" not in dataset:
        raise _refuse(f"{name} is a DICOM object without pixel data (not an image).", "no_pixel_data")
    try:
        rows, columns = int(getattr(dataset, "Rows", 0) or 0), int(getattr(dataset, "Columns", 0) or 0)
        frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
        samples = int(getattr(dataset, "SamplesPerPixel", 1) or 1)
        bits = int(getattr(dataset, "BitsAllocated", 0) or 0)
    except Exception:  # a value that does not parse as a number
        raise _refuse(
            f"{name} has a malformed image header (rows, columns, frames or bits).", "corrupt_image"
        ) from None
    if min(rows, columns, frames, samples) < 1:
        raise _refuse(
            f"{name} declares {frames} frame(s) of {rows} x {columns} pixels with {samples} sample(s); that is no "
            "image.",
            "corrupt_image",
        )
    if rows * columns * frames > settings.HEALTHSYNC_MAX_IMAGE_PIXELS:
        raise _refuse(
            f"{name} declares {frames} frame(s) of {rows} x {columns}; too large to decode safely.", "image_too_large"
        )
    if bits not in BITS_ALLOCATED:
        raise _refuse(
            f"{name} declares {bits} bits allocated per sample; pixel data holds 1, 8, 16 or 32.", "undecodable_pixels"
        )
    decoded = rows * columns * frames * samples * max(bits, 8) // 8
    if decoded > settings.HEALTHSYNC_MAX_IMAGE_PIXELS * 2:  # the pixel limit at 16 bits, one sample
        raise _refuse(
            f"{name} would decode to {decoded / 2**20:,.0f} MB of pixels; too large to decode safely.",
            "image_too_large",
        )
    _check_pixel_data_fits_transfer_syntax(dataset, name, rows=rows, columns=columns, frames=frames, bits=bits)
    if str(dataset.get("BurnedInAnnotation", "") or "").strip().upper() == "YES":
        raise _refuse(
            f"{name} says its pixels carry burned-in annotation (names or numbers drawn on the image), which "
            "cannot be removed here; send a copy without it.",
            "burned_in_annotation",
        )
    if only_gdcm_decodes(dataset):
        failure = _decoding_failure_in_a_child_process(data)
        if failure:
            raise _refuse(f"{name}: its pixel data cannot be decoded ({failure}).", "undecodable_pixels")
    try:
        dicom_pixels(dataset)  # decoded to check it decodes; the worker decodes the stored file
    except (KeyboardInterrupt, SystemExit):
        raise
    except (
        BaseException
    ) as exc:  # any decoder failure, even a Rust decoder's panic (pyo3's PanicException is no Exception)
        raise _refuse(
            f"{name}: its pixel data cannot be decoded ({exc.__class__.__name__}: {str(exc)[:120]}).",
            "undecodable_pixels",
        ) from None
    try:
        identifiers, stored = _de_identified(dataset, kept)
    except Exception as exc:  # elements that parse but cannot be written back (a trailer read as elements)
        raise _refuse(
            f"{name} holds elements that cannot be kept ({exc.__class__.__name__}).", "corrupt_image"
        ) from None
    metadata = {
        "modality": str(getattr(dataset, "Modality", "") or ""),
        "body_part": str(getattr(dataset, "BodyPartExamined", "") or ""),
        "study_uid": str(getattr(dataset, "StudyInstanceUID", "") or ""),
        "series_uid": str(getattr(dataset, "SeriesInstanceUID", "") or ""),
        "transfer_syntax": str(getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", "") or ""),
        "rows": rows,
        "columns": columns,
        "frames": frames,
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


def _check_pixel_data_fits_transfer_syntax(
    dataset, name: str, *, rows: int, columns: int, frames: int, bits: int
) -> None:
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
    if not isinstance(value, (bytes, bytearray)):
        raise _refuse(f"{name} holds pixel data that is not a byte stream (VR {element.VR}).", "corrupt_image")
    if not syntax.is_encapsulated:
        if element.is_undefined_length:
            raise _refuse(
                f"{name} says its pixel data is uncompressed ({syntax.name}) but holds compressed (encapsulated) "
                "frames.",
                "undecodable_pixels",
            )
        try:
            expected = get_expected_length(dataset, unit="bytes")
        except Exception:  # elements missing: the decoder names them
            expected = 0
        if len(value) < expected:
            raise _refuse(
                f"{name} has {len(value)} bytes of pixel data; {frames} frame(s) of {rows} x {columns} at {bits} bits "
                f"uncompressed ({syntax.name}) take {expected}.",
                "undecodable_pixels",
            )
        if value.startswith(COMPRESSED_MAGICS):
            raise _refuse(
                f"{name} says its pixel data is uncompressed ({syntax.name}) but it holds a compressed image.",
                "undecodable_pixels",
            )
        return
    if not element.is_undefined_length:
        raise _refuse(
            f"{name} says its pixel data is compressed ({syntax.name}) but holds uncompressed (native) pixels.",
            "undecodable_pixels",
        )
    size = _codestream_size(_first_fragment(value))
    if size is not None and size != (rows, columns):
        raise _refuse(
            f"{name}: its compressed frame is {size[0]} x {size[1]} pixels but the header declares {rows} x {columns}.",
            "undecodable_pixels",
        )


def _first_fragment(value: bytes | bytearray) -> bytes:
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
                return struct.unpack(">HH", fragment[offset + 5 : offset + 9])
            offset += 2 + int.from_bytes(fragment[offset + 2 : offset + 4], "big")
        return None
    start = fragment.find(b"\xff\x4f\xff\x51", 0, 4096)  # a bare codestream, or one inside a JP2 file's boxes
    if start >= 0 and start + 24 <= len(fragment):
        width, height, left, top = struct.unpack(">IIII", fragment[start + 8 : start + 24])
        return height - top, width - left
    return None


def _check_data_set_size(data: bytes, name: str) -> None:
    """Refuse, before pydicom reads the whole file, a DICOM whose data set is built to be slow and
    large to read: a deflated one (PS3.5 A.5) that inflates past the upload limit (a few kilobytes
    can inflate to gigabytes), or one with more than ``MAX_TOP_LEVEL_ELEMENTS`` elements (millions
    of empty private elements fit in the upload limit and take minutes and gigabytes to read).
    The file meta group, never deflated, names the transfer syntax and says where the data set
    starts; the elements are counted with pydicom's own reader, large values skipped unread."""
    from pydicom.filereader import data_element_generator, read_dataset
    from pydicom.uid import UID

    stream = io.BytesIO(data)
    stream.seek(132)
    try:
        meta = read_dataset(
            stream, is_implicit_VR=False, is_little_endian=True, stop_when=lambda tag, vr, length: tag.group != 2
        )
        syntax = UID(str(meta.get("TransferSyntaxUID", "") or ""))
        start = stream.tell()
    except Exception:  # a malformed meta group: pydicom's reading says what is wrong
        return
    if not syntax.is_transfer_syntax:
        return  # refused, with its name, after reading
    body = data[start:]
    if syntax.is_deflated:
        limit = max_upload_bytes()
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error:
            return  # not deflated after all, or corrupt: pydicom's reading says which
        if len(body) > limit or inflater.unconsumed_tail:
            raise _refuse(
                f"{name} inflates to more than {settings.HEALTHSYNC_MAX_UPLOAD_MB} MB; too large to read safely.",
                "image_too_large",
            )
    elements = data_element_generator(io.BytesIO(body), syntax.is_implicit_VR, syntax.is_little_endian, defer_size=1024)
    try:
        for count, _ in enumerate(elements, 1):
            if count > MAX_TOP_LEVEL_ELEMENTS:
                raise _refuse(
                    f"{name} holds more than {MAX_TOP_LEVEL_ELEMENTS:,} elements; it is not a study we can read.",
                    "corrupt_image",
                )
    except UploadRefused:
        raise
    except Exception:  # malformed elements: pydicom's reading says what is wrong
        return


def _is_registered_uid(value: str) -> bool:
    """Whether a UID is one of DICOM's own (a SOP class, transfer syntax, coding scheme...), which
    names a kind of thing, not a patient's study: those are kept, every other UID is replaced."""
    from pydicom.uid import UID

    return UID(value).name != value


def _de_identified(dataset, kept: tuple[str, ...] = KEPT_IDENTIFIERS) -> tuple[dict, bytes]:
    """The original identifiers (of ``kept``), and the DICOM as kept: the PS3.15 Annex E basic profile (Table
    E.1-1 in full, ``PROFILE_ACTIONS``) applied at every level of the data set, not only the top one:

    * the table's attributes are removed (X), emptied (Z) or given a dummy value (D; where the VR
      takes no text, removed); beyond the table, person names and free text (PN, LT, ST, UT),
      overlays and curves (groups 60xx and 50xx: drawings and comments over the image) and private
      elements are removed wherever they are;
    * dates and times are emptied (removed where the table says X);
    * every UID that is not one of DICOM's own is replaced, the same way throughout the file, so
      references inside it still match (and no longer match the hospital's archive);
    * a study whose pixels carry burned-in annotation (names on the image) is refused before this.
    """
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.uid import generate_uid

    identifiers = {keyword: str(dataset.get(keyword, "") or "") for keyword in kept if keyword in dataset}
    dataset.remove_private_tags()
    replaced = {}

    def replacement(uid: str) -> str:
        if uid not in replaced:
            replaced[uid] = generate_uid()
        return replaced[uid]

    def clean(current, element) -> None:
        group, action = element.tag.group, PROFILE_ACTIONS.get(int(element.tag))
        if element.VR == "UI":
            if element.value:
                values = element.value if element.VM > 1 else [element.value]
                kept = [str(uid) if _is_registered_uid(str(uid)) else replacement(str(uid)) for uid in values]
                element.value = kept if element.VM > 1 else kept[0]
        elif (
            action == "remove"
            or action == "replace"
            and element.VR not in DUMMY_VRS | DATE_VRS
            or element.VR in IDENTIFYING_VRS
            or 0x5000 <= group <= 0x50FF
            or 0x6000 <= group <= 0x60FF
        ):
            del current[element.tag]
        elif action == "empty" or element.VR in DATE_VRS:
            element.value = [] if element.VR == "SQ" else ""
        elif action == "replace":
            element.value = DUMMY

    dataset.walk(clean)
    if hasattr(dataset, "file_meta"):
        for keyword in IDENTIFYING_META_KEYWORDS:
            if keyword in dataset.file_meta:
                delattr(dataset.file_meta, keyword)
        if "SOPInstanceUID" in dataset:
            dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = "HealthSync PS3.15 Annex E basic profile"  # LO: 64 characters at most
    method = Dataset()
    method.CodeValue, method.CodingSchemeDesignator, method.CodeMeaning = (
        "113100",
        "DCM",
        "Basic Application Confidentiality Profile",
    )
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
            f"This is a {modality} study; {model_name} reads {model_modality.replace('_', ' ')} images "
            f"({', '.join(sorted(allowed))}).",
            code="modality_mismatch",
            fields={"image": [f"Modality {modality} does not fit the model."]},
        )
