"""DICOMweb (PS3.18) over the DICOM node: STOW-RS in, QIDO-RS and WADO-RS out, for the hospital's own staff.

* **STOW-RS**: each part of a ``multipart/related; type="application/dicom"`` body is one DICOM file,
  received exactly as a C-STORE is (``services.instance_receive``: the same checks, de-identification
  and encrypted identifiers), in an exchange recorded like an association (``services.exchange_open``)
  whose instances are routed when the request ends (``services.association_close``). The body is read
  and taken apart before anything is stored: a malformed one stores nothing. The answer is a store
  response data set (ReferencedSOPSequence / FailedSOPSequence with the DIMSE status as FailureReason).
* **QIDO-RS**: the hospital's studies, series and instances, received ones and the results HealthSync
  made of them (a Comprehensive SR, a Secondary Capture of the Grad-CAM overlay). The original UIDs
  and patient identifiers are kept encrypted: studies are found by keyed digests of their Study
  Instance UID and Patient ID (``services.search_keys``), and the other keys are matched on the
  decrypted identifiers of one instance per study.
* **WADO-RS**: the result objects, as ``multipart/related; type="application/dicom"`` or as DICOM
  JSON metadata. The instances received are not served back: they are kept de-identified, and only
  until they are analysed.

The attributes answered are in the hospital's own terms (the identifiers it sent), so DICOMweb is for
the hospital's own staff only (``own_hospital``): a platform administrator who is no member gets 403,
as the API shows patient identifiers to the hospital's own staff alone.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus

from django.conf import settings
from django.http import Http404
from django.utils.http import parse_header_parameters

from healthsync.errors import DomainError, Forbidden
from healthsync.params import whole_number
from healthsync.permissions import acting_hospital

from . import selectors, services
from .models import AssociationStatus

logger = logging.getLogger(__name__)

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
# The query keys QIDO-RS matches are ``selectors.STUDY_KEYS``, ``SERIES_KEYS`` and ``INSTANCE_KEYS`` (PS3.18
# Table 10.6.1-5, as C-FIND's); any other attribute is ignored, with a Warning.
CONTROL_KEYS = {"limit", "offset", "includefield", "fuzzymatching", "hospital"}


class UnsupportedMediaType(DomainError):
    status_code = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    code = "unsupported_media_type"


class NotAcceptable(DomainError):
    status_code = HTTPStatus.NOT_ACCEPTABLE
    code = "not_acceptable"


class TooLarge(DomainError):
    status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    code = "request_too_large"


def own_hospital(user, hospital_id=None):
    """The hospital a DICOMweb request acts for: one the user is a member of (``acting_hospital``
    otherwise: 404 for a hospital not theirs, 400 when they must name one of several)."""
    if not user.memberships.exists():
        raise Forbidden(
            "DICOMweb answers in the hospital's own patient identifiers: it is for the hospital's own staff.",
            code="not_hospital_staff",
        )
    hospital = acting_hospital(user, hospital_id)
    if not user.memberships.filter(hospital=hospital).exists():
        raise Http404("No such hospital among yours.")
    return hospital


checked_uid = selectors.checked_uid


# --- multipart/related (RFC 2387, RFC 2046 5.1) ---------------------------------------------------------------


@dataclass
class Part:
    headers: dict[str, str]  # names in lower case
    content: bytes


def multipart_parts(body: bytes, boundary: str) -> list[Part]:
    """The parts of a multipart body; ``DomainError`` (400) when it is not one (no delimiter, no
    closing delimiter, a part without its header block)."""
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    start = 0 if body.startswith(delimiter) else body.find(b"\r\n" + delimiter) + 2  # after a preamble
    if start == 1:
        raise _malformed("it holds no delimiter of its boundary")
    position, parts = start + len(delimiter), []
    while body[position : position + 2] != b"--":
        line_end = body.find(b"\r\n", position)
        if line_end < 0 or body[position:line_end].strip(b" \t"):
            raise _malformed("a delimiter is not followed by a line break")
        following = body.find(b"\r\n" + delimiter, line_end + 2)
        if following < 0:
            raise _malformed("it has no closing delimiter")
        parts.append(_part(body[line_end + 2 : following]))
        position = following + 2 + len(delimiter)
    if not parts:
        raise _malformed("it has no parts")
    return parts


def _part(raw: bytes) -> Part:
    if raw.startswith(b"\r\n"):  # no header fields
        return Part({}, raw[2:])
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        raise _malformed("a part has no blank line after its header fields")
    headers = {}
    for line in raw[:end].decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise _malformed(f"a part has the header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return Part(headers, raw[end + 4 :])


def _malformed(why: str) -> DomainError:
    return DomainError(f"The body is not a multipart/related message: {why}.", code="malformed_multipart")


def multipart_body(contents: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body of (content type, content) parts, and its boundary."""
    boundary = uuid.uuid4().hex
    chunks = []
    for content_type, content in contents:
        chunks += [f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode(), content, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), boundary


# --- STOW-RS ---------------------------------------------------------------------------------------------------


@dataclass
class Stored:
    status: int  # 200 all stored, 202 some failed, 409 none stored
    response: dict  # the store response data set, DICOM JSON
    reasons: list[str] = field(default_factory=list)  # why each failed part failed (for the Warning header)


def max_body_bytes() -> int:
    return settings.HEALTHSYNC_MAX_BATCH_MB * 1024 * 1024


def store(*, hospital, user, address: str, content_type: str, body: bytes, study_uid: str | None = None) -> Stored:
    """STOW-RS: store each part of ``body`` for ``hospital``, then route them (as an association's)."""
    if study_uid is not None:
        checked_uid(study_uid, "study")
    parts = multipart_parts(body, _stow_boundary(content_type))
    session = services.exchange_open(hospital_id=hospital.pk, user=user, address=address)
    referenced, failed, reasons = [], [], []
    try:
        for part in parts:
            sop_class, sop_instance, outcome = _store_part(session, part, study_uid)
            item = _dataset(ReferencedSOPClassUID=sop_class, ReferencedSOPInstanceUID=sop_instance)
            if outcome.status == services.SUCCESS:
                referenced.append(item)
            else:
                item.FailureReason = outcome.status
                failed.append(item)
                reasons.append(f"{sop_instance or 'part ' + str(len(referenced) + len(failed))}: {outcome.comment}")
    finally:
        try:
            services.association_close(session, status=AssociationStatus.RELEASED)
        except Exception:  # stored and acknowledged all the same; they wait in the console until routed
            logger.exception("DICOMweb exchange %s not routed", session.association_id)
    answer = _dataset()
    if referenced:
        answer.ReferencedSOPSequence = referenced
    if failed:
        answer.FailedSOPSequence = failed
    status = HTTPStatus.OK if not failed else HTTPStatus.ACCEPTED if referenced else HTTPStatus.CONFLICT
    return Stored(status=status, response=answer.to_json_dict(), reasons=reasons)


def _stow_boundary(content_type: str) -> str:
    main, parameters = parse_header_parameters(content_type or "")
    wanted = 'multipart/related; type="application/dicom"'
    if main != "multipart/related":
        raise UnsupportedMediaType(f"STOW-RS takes {wanted}, not {main or 'no content type'}.")
    if parameters.get("type", DICOM).lower() != DICOM:
        raise UnsupportedMediaType(f"STOW-RS takes {wanted} (DICOM files), not type={parameters['type']}.")
    if not parameters.get("boundary"):
        raise _malformed("its content type names no boundary")
    return parameters["boundary"]


def _store_part(session, part: Part, study_uid: str | None) -> tuple[str, str, services.Outcome]:
    """(SOP class, SOP instance, outcome) of one part: its UIDs are read from its file meta."""
    main, _ = parse_header_parameters(part.headers.get("content-type", DICOM))
    if main != DICOM:
        return "", "", services.Outcome(services.CANNOT_UNDERSTAND, f"A part of type {main} is not a DICOM file.")
    meta = _file_meta(part.content)
    if meta is None:
        return (
            "",
            "",
            services.Outcome(
                services.CANNOT_UNDERSTAND, "The part is not a DICOM file (preamble, DICM, file meta information)."
            ),
        )
    sop_class, sop_instance = meta
    outcome = services.instance_receive(session, sop_class_uid=sop_class, data=part.content, study_uid=study_uid)
    return sop_class, sop_instance, outcome


def _file_meta(data: bytes) -> tuple[str, str] | None:
    """The Media Storage SOP Class and Instance UIDs of a DICOM file's meta information, or None."""
    from pydicom.filereader import _read_file_meta_info, read_preamble

    if len(data) < 132 or data[128:132] != b"DICM":
        return None
    try:
        source = io.BytesIO(data)
        read_preamble(source, False)
        meta = _read_file_meta_info(source)
        return str(meta.MediaStorageSOPClassUID), str(meta.MediaStorageSOPInstanceUID)
    except Exception:  # any parsing failure of untrusted bytes is the part's fault
        return None


def _dataset(**attributes):
    from pydicom.dataset import Dataset

    dataset = Dataset()
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return dataset


# --- QIDO-RS ---------------------------------------------------------------------------------------------------


@dataclass
class Query:
    keys: dict[str, list[str]]  # keyword -> values (UID lists split)
    limit: int
    offset: int
    ignored: list[str]


def query_of(params, *, level_keys: frozenset[str]) -> Query:
    """The search keys (by keyword or tag, e.g. ``0020000D``) and paging of a QIDO-RS request."""
    from pydicom.datadict import keyword_for_tag

    keys, ignored = {}, []
    for name in params:
        if name in CONTROL_KEYS:
            continue
        keyword = name
        if re.fullmatch(r"[0-9A-Fa-f]{8}", name):
            keyword = keyword_for_tag(int(name, 16)) or name
        if keyword not in level_keys:
            ignored.append(name)
            continue
        keys[keyword] = [value for raw in params.getlist(name) for value in re.split(r"[,\\]", raw)]
    if params.get("fuzzymatching", "").lower() == "true":
        ignored.append("fuzzymatching")
    return Query(
        keys=selectors.matching_keys(keys),
        limit=max(whole_number(params, "limit", default=DEFAULT_LIMIT, maximum=MAX_LIMIT, clamp=True), 1),
        offset=whole_number(params, "offset", default=0, maximum=2**31),
        ignored=ignored,
    )


def warning(query: Query) -> str | None:
    """The Warning header of a search that ignored some of its keys (PS3.18 8.3.4.3)."""
    if not query.ignored:
        return None
    names = ", ".join(sorted(set(query.ignored)))[:500]
    return f'299 HealthSync "The following attributes are not supported and were ignored: {names}"'


@dataclass
class Found:
    """A search's (or retrieve's) answer: DICOM JSON data sets, and the records whose patient
    identifiers it shows (for ``healthsync.audit.note_patient_read``)."""

    datasets: list[dict]
    read: list = field(default_factory=list)


def _found(matches: list[selectors.Match], retrieve_url) -> Found:
    """The matches as DICOM JSON, with ``retrieve_url(attributes)`` for those WADO-RS serves."""
    found = Found([])
    for match in matches:
        dataset = _dataset(**match.attributes)
        if match.retrievable:
            dataset.RetrieveURL = retrieve_url(match.attributes)
        found.datasets.append(dataset.to_json_dict())
        if match.read is not None:
            found.read.append(match.read)
    return found


def search_studies(hospital, params, *, base_url: str) -> tuple[Found, Query]:
    """QIDO-RS ``/studies``: the hospital's studies matching ``params``, newest first."""
    query = query_of(params, level_keys=selectors.STUDY_KEYS)
    matches = selectors.studies_matching(hospital.pk, query.keys, offset=query.offset, limit=query.limit)
    for match in matches:
        match.attributes = {"SpecificCharacterSet": "ISO_IR 192", **match.attributes}
    return _found(matches, lambda row: f"{base_url}/studies/{row['StudyInstanceUID']}"), query


def _study_of(hospital, study_uid: str) -> selectors.StudyRecords:
    study = selectors.study_of(hospital.pk, study_uid)
    if study is None:
        raise Http404("No such study among your hospital's.")
    return study


def search_series(hospital, study_uid: str, params, *, base_url: str) -> tuple[Found, Query]:
    """QIDO-RS ``/studies/{study}/series``: the study's received series and its result series."""
    query = query_of(params, level_keys=selectors.SERIES_KEYS)
    matches = selectors.series_matching(hospital.pk, study_uid, query.keys, offset=query.offset, limit=query.limit)
    if matches is None:
        raise Http404("No such study among your hospital's.")
    url = f"{base_url}/studies/{study_uid}/series"
    return _found(matches, lambda row: f"{url}/{row['SeriesInstanceUID']}"), query


def search_instances(hospital, study_uid: str, series_uid: str, params, *, base_url: str) -> tuple[Found, Query]:
    """QIDO-RS ``/studies/{study}/series/{series}/instances``."""
    query = query_of(params, level_keys=selectors.INSTANCE_KEYS)
    if selectors.study_of(hospital.pk, study_uid) is None:
        raise Http404("No such study among your hospital's.")
    matches = selectors.instances_matching(
        hospital.pk, study_uid, series_uid, query.keys, offset=query.offset, limit=query.limit
    )
    if matches is None:
        raise Http404("No such series in this study.")
    url = f"{base_url}/studies/{study_uid}/series/{series_uid}/instances"
    return _found(matches, lambda row: f"{url}/{row['SOPInstanceUID']}"), query


# --- WADO-RS ---------------------------------------------------------------------------------------------------


def results(hospital, study_uid: str, series_uid: str | None = None, instance_uid: str | None = None) -> list[tuple]:
    """(delivery, data set) of each result object HealthSync made in the study (the series, the instance)."""
    study = _study_of(hospital, study_uid)
    for uid, name in ((series_uid, "series"), (instance_uid, "instance")):
        if uid is not None:
            checked_uid(uid, name)
    found = []
    for delivery in study.results:
        if series_uid not in (None, delivery.series_uid, delivery.capture_series_uid) or instance_uid not in (
            None,
            delivery.report_uid,
            delivery.capture_uid,
        ):
            continue  # its results are not made for nothing
        found += [
            (delivery, dataset)
            for dataset in services.results_of(delivery)
            if series_uid in (None, dataset.SeriesInstanceUID) and instance_uid in (None, dataset.SOPInstanceUID)
        ]
    if not found:
        raise Http404(
            "No result object of HealthSync's here: it serves the reports and overlays it made, not the "
            "instances it received (kept de-identified, for analysis only)."
        )
    return found


def check_accepts_dicom(accept: str) -> None:
    """WADO-RS answers ``multipart/related; type="application/dicom"`` in Explicit VR Little Endian: 406
    when ``accept`` allows none of it."""
    if not accept.strip():
        return
    for entry in accept.split(","):
        main, parameters = parse_header_parameters(entry)
        syntax = parameters.get("transfer-syntax", "*")
        if main in ("*/*", "multipart/*") or (
            main == "multipart/related"
            and parameters.get("type", DICOM).lower() in (DICOM, "application/*", "*/*")
            and syntax in ("*", EXPLICIT_VR_LITTLE_ENDIAN)
        ):
            return
    raise NotAcceptable(
        f'The result objects are served as multipart/related; type="application/dicom" '
        f"(transfer syntax {EXPLICIT_VR_LITTLE_ENDIAN}), which {accept[:200]!r} does not accept."
    )


def check_accepts_json(accept: str) -> None:
    """QIDO-RS and metadata answer DICOM JSON: 406 when ``accept`` allows none of it."""
    if not accept.strip():
        return
    types = {parse_header_parameters(entry)[0] for entry in accept.split(",")}
    if types & {DICOM_JSON, "application/json", "application/*", "*/*"}:
        return
    raise NotAcceptable(
        f"DICOMweb searches and metadata are served as {DICOM_JSON}, which {accept[:200]!r} does not accept."
    )


def retrieved(found: list[tuple]) -> tuple[bytes, str]:
    """The data sets as a WADO-RS response body, and its content type."""
    from pydicom import dcmwrite

    contents = []
    for _, dataset in found:
        buffer = io.BytesIO()
        dcmwrite(buffer, dataset, enforce_file_format=True)
        syntax = dataset.file_meta.TransferSyntaxUID
        contents.append((f"{DICOM}; transfer-syntax={syntax}", buffer.getvalue()))
    body, boundary = multipart_body(contents)
    return body, f'multipart/related; type="{DICOM}"; boundary={boundary}'


def metadata(found: list[tuple]) -> list[dict]:
    """The data sets as DICOM JSON, without their pixel data (bulk data is not served apart)."""
    answer = []
    for _, dataset in found:
        copy = dataset.copy()
        if "PixelData" in copy:
            del copy.PixelData
        answer.append(copy.to_json_dict())
    return answer
