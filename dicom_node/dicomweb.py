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

import fnmatch
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
from imaging.analyses import patient_digest

from . import selectors, services
from .models import AssociationStatus

logger = logging.getLogger(__name__)

DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
# The query keys QIDO-RS matches (PS3.18 Table 10.6.1-5); any other attribute is ignored, with a Warning.
STUDY_KEYS = {"StudyInstanceUID", "PatientID", "PatientName", "AccessionNumber", "StudyDate", "ModalitiesInStudy"}
SERIES_KEYS = {"SeriesInstanceUID", "Modality"}
INSTANCE_KEYS = {"SOPInstanceUID", "SOPClassUID"}
CONTROL_KEYS = {"limit", "offset", "includefield", "fuzzymatching", "hospital"}
# The study's attributes kept (encrypted) with each received instance, answered at the study level.
STUDY_ATTRIBUTES = (
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
)


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


def checked_uid(value: str, name: str) -> str:
    if len(value) > 64 or not UID.match(value):
        raise DomainError(f"{name} {value[:80]!r} is not a DICOM UID.", fields={name: ["Not a UID."]})
    return value


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


def query_of(params, *, level_keys: set[str]) -> Query:
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
        values = [value.strip() for raw in params.getlist(name) for value in re.split(r"[,\\]", raw) if value.strip()]
        if values:
            keys[keyword] = values
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"):
        for value in keys.get(keyword, []):
            checked_uid(value, keyword)
    if "StudyDate" in keys:
        keys["StudyDate"] = [_date_range(keys["StudyDate"][0])]
    if params.get("fuzzymatching", "").lower() == "true":
        ignored.append("fuzzymatching")
    return Query(
        keys=keys,
        limit=max(whole_number(params, "limit", default=DEFAULT_LIMIT, maximum=MAX_LIMIT, clamp=True), 1),
        offset=whole_number(params, "offset", default=0, maximum=2**31),
        ignored=ignored,
    )


def _date_range(value: str) -> str:
    low, dash, high = value.partition("-")
    for part in (low, high):
        if part and not re.fullmatch(r"\d{8}", part):
            message = "StudyDate is a date (YYYYMMDD) or a range of them (YYYYMMDD-YYYYMMDD, either end open)."
            raise DomainError(message, fields={"StudyDate": [message]})
    return f"{low}-{high}" if dash else f"{low}-{low}"


def warning(query: Query) -> str | None:
    """The Warning header of a search that ignored some of its keys (PS3.18 8.3.4.3)."""
    if not query.ignored:
        return None
    names = ", ".join(sorted(set(query.ignored)))[:500]
    return f'299 HealthSync "The following attributes are not supported and were ignored: {names}"'


def _matches(key: str, wanted: list[str], value: str) -> bool:
    if key == "StudyDate":
        low, _, high = wanted[0].partition("-")
        return bool(value) and (not low or value >= low) and (not high or value <= high)
    if key == "PatientName":  # wildcards * and ? (PS3.4 C.2.2.2.4)
        return any(fnmatch.fnmatchcase(value, pattern) for pattern in wanted)
    return value in wanted


@dataclass
class Found:
    """A search's (or retrieve's) answer: DICOM JSON data sets, and the records whose patient
    identifiers it shows (for ``healthsync.audit.note_patient_read``)."""

    datasets: list[dict]
    read: list = field(default_factory=list)


@dataclass
class _Study:
    key: str
    instances: list[tuple] = field(default_factory=list)  # received_in rows
    results: list = field(default_factory=list)  # ResultDelivery

    def modalities(self) -> set[str]:
        found = {row[3] for row in self.instances if row[3]}
        return (
            found
            | ({"SR"} if self.results else set())
            | ({"OT"} if any(r.analysis.gradcam for r in self.results) else set())
        )

    def result_series(self) -> list[dict]:
        """Each result's series: (UID, modality, SOP class, SOP instance, series number, description)."""
        series = []
        for result in self.results:
            model = f"{result.analysis.model.name}:{result.analysis.model.version}"
            series.append(
                {
                    "SeriesInstanceUID": result.series_uid,
                    "Modality": "SR",
                    "SOPClassUID": COMPREHENSIVE_SR,
                    "SOPInstanceUID": result.report_uid,
                    "SeriesNumber": 9901,
                    "SeriesDescription": f"HealthSync {model}"[:64],
                }
            )
            if result.analysis.gradcam:
                series.append(
                    {
                        "SeriesInstanceUID": result.capture_series_uid,
                        "Modality": "OT",
                        "SOPClassUID": SECONDARY_CAPTURE,
                        "SOPInstanceUID": result.capture_uid,
                        "SeriesNumber": 9902,
                        "SeriesDescription": f"HealthSync Grad-CAM {model}"[:64],
                    }
                )
        return series


def _studies(hospital_id: int, *, study_keys=None, patient_digests=None) -> dict[str, _Study]:
    studies: dict[str, _Study] = {}
    for row in selectors.received_in(hospital_id, study_keys=study_keys, patient_digests=patient_digests):
        studies.setdefault(row[1], _Study(row[1])).instances.append(row)
    for result in selectors.results_in(hospital_id, studies):
        studies[result.instance.study_key].results.append(result)
    return studies


def _identifiers(instance) -> dict:
    import json

    return json.loads(instance.patient_identifiers or "{}")


def search_studies(hospital, params, *, base_url: str) -> tuple[Found, Query]:
    """QIDO-RS ``/studies``: the hospital's studies matching ``params``, newest first."""
    query = query_of(params, level_keys=STUDY_KEYS)
    keys = query.keys
    studies = _studies(
        hospital.pk,
        study_keys=[services.uid_key("study", hospital.pk, uid) for uid in keys["StudyInstanceUID"]]
        if "StudyInstanceUID" in keys
        else None,
        patient_digests=[patient_digest(value) for value in keys["PatientID"]] if "PatientID" in keys else None,
    )
    candidates = [
        study
        for study in studies.values()
        if "ModalitiesInStudy" not in keys or study.modalities() & set(keys["ModalitiesInStudy"])
    ]
    found, skipped = Found([]), 0
    decrypted_keys = [key for key in ("PatientName", "AccessionNumber", "StudyDate") if key in keys]
    for start in range(0, len(candidates), 200):
        chunk = candidates[start : start + 200]
        read = selectors.instances_read(study.instances[0][0] for study in chunk)
        for study in chunk:
            instance = read[study.instances[0][0]]
            identifiers = _identifiers(instance)
            if not all(_matches(key, keys[key], identifiers.get(key, "")) for key in decrypted_keys):
                continue
            if skipped < query.offset:
                skipped += 1
                continue
            found.datasets.append(_study_attributes(study, identifiers, base_url))
            found.read.append(instance)
            if len(found.datasets) == query.limit:
                return found, query
    return found, query


def _study_attributes(study: _Study, identifiers: dict, base_url: str) -> dict:
    attributes = {keyword: identifiers.get(keyword, "") for keyword in STUDY_ATTRIBUTES}
    dataset = _dataset(
        SpecificCharacterSet="ISO_IR 192",
        **attributes,
        ModalitiesInStudy=sorted(study.modalities()),
        NumberOfStudyRelatedSeries=len({row[2] for row in study.instances}) + len(study.result_series()),
        NumberOfStudyRelatedInstances=len(study.instances) + len(study.result_series()),
    )
    if study.results:
        dataset.RetrieveURL = f"{base_url}/studies/{attributes['StudyInstanceUID']}"
    return dataset.to_json_dict()


def _study_of(hospital, study_uid: str) -> _Study:
    key = services.uid_key("study", hospital.pk, checked_uid(study_uid, "study"))
    study = _studies(hospital.pk, study_keys=[key]).get(key)
    if study is None:
        raise Http404("No such study among your hospital's.")
    return study


def search_series(hospital, study_uid: str, params, *, base_url: str) -> tuple[Found, Query]:
    """QIDO-RS ``/studies/{study}/series``: the study's received series and its result series."""
    query = query_of(params, level_keys=SERIES_KEYS)
    study = _study_of(hospital, study_uid)
    firsts: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    for row in study.instances:
        firsts.setdefault(row[2], row)
        counts[row[2]] = counts.get(row[2], 0) + 1
    read = selectors.instances_read(row[0] for row in firsts.values())
    rows, shown = [], []
    for series_key, row in firsts.items():
        identifiers = _identifiers(read[row[0]])
        uid = identifiers.get("SeriesInstanceUID") or identifiers.get("StudyInstanceUID", "")
        rows.append(
            {
                "SeriesInstanceUID": uid,
                "Modality": row[3],
                "SeriesDescription": identifiers.get("SeriesDescription", ""),
                "NumberOfSeriesRelatedInstances": counts[series_key],
            }
        )
        shown.append(read[row[0]])
    for series in study.result_series():
        rows.append(
            {
                **{key: series[key] for key in ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription")},
                "NumberOfSeriesRelatedInstances": 1,
                "RetrieveURL": f"{base_url}/studies/{study_uid}/series/{series['SeriesInstanceUID']}",
            }
        )
    return _page(rows, query, study_uid=study_uid, read=shown), query


def search_instances(hospital, study_uid: str, series_uid: str, params, *, base_url: str) -> tuple[Found, Query]:
    """QIDO-RS ``/studies/{study}/series/{series}/instances``."""
    query = query_of(params, level_keys=INSTANCE_KEYS)
    study = _study_of(hospital, study_uid)
    checked_uid(series_uid, "series")
    rows, shown = [], []
    for series in study.result_series():
        if series["SeriesInstanceUID"] == series_uid:
            url = f"{base_url}/studies/{study_uid}/series/{series_uid}/instances/{series['SOPInstanceUID']}"
            rows.append({**_instance_keys(series), "InstanceNumber": 1, "RetrieveURL": url})
    series_key = services.uid_key("series", hospital.pk, series_uid)
    members = [row for row in study.instances if row[2] == series_key]
    read = selectors.instances_read(row[0] for row in members)
    for row in members:
        identifiers = _identifiers(read[row[0]])
        rows.append(
            {
                "SOPClassUID": row[4],
                "SOPInstanceUID": identifiers.get("SOPInstanceUID", ""),
                "SeriesInstanceUID": series_uid,
                "Modality": row[3],
            }
        )
        shown.append(read[row[0]])
    if not rows:
        raise Http404("No such series in this study.")
    return _page(rows, query, study_uid=study_uid, read=shown), query


def _instance_keys(series: dict) -> dict:
    return {key: series[key] for key in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality")}


def _page(rows: list[dict], query: Query, *, study_uid: str, read: list) -> Found:
    kept = [
        row for row in rows if all(_matches(key, values, str(row.get(key, ""))) for key, values in query.keys.items())
    ]
    page = kept[query.offset : query.offset + query.limit]
    return Found([_dataset(StudyInstanceUID=study_uid, **row).to_json_dict() for row in page], read)


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
