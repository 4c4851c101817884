"""Reads of the DICOM node: which trusted peer is calling, which routing rule fits an instance, and the
searches of a hospital's studies that QIDO-RS and C-FIND answer from."""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import socket
from dataclasses import dataclass, field

from django.utils.crypto import salted_hmac

from healthsync.errors import DomainError
from imaging.analyses import patient_digest

from .models import DicomPeer, ReceivedInstance, ResultDelivery, RoutingRule


def _normalised(address: str) -> str:
    """An IP address in one spelling (an IPv4-mapped IPv6 address as its IPv4 address)."""
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return address.strip().lower()
    mapped = getattr(parsed, "ipv4_mapped", None)
    return str(mapped or parsed)


def host_addresses(host: str) -> set[str]:
    """The IP addresses a peer's host stands for: itself when it is one, else what it resolves to."""
    host = host.strip()
    try:
        return {_normalised(host)} if ipaddress.ip_address(host.strip("[]")) else set()
    except ValueError:
        pass
    try:
        return {_normalised(str(info[4][0])) for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError):  # unknown host: it matches no address
        return set()


def peer_for(*, ae_title: str, address: str) -> DicomPeer | None:
    """The trusted peer calling as ``ae_title`` from ``address``, or None: both must match a registration."""
    address = _normalised(address)
    for peer in DicomPeer.objects.select_related("hospital").filter(ae_title=ae_title.strip()).order_by("pk"):
        if address in host_addresses(peer.host):
            return peer
    return None


def destination_of(hospital_id: int) -> DicomPeer | None:
    return DicomPeer.objects.filter(hospital_id=hospital_id, is_destination=True).first()


def active_rules(hospital_id: int) -> list[RoutingRule]:
    return list(
        RoutingRule.objects.filter(hospital_id=hospital_id, is_active=True)
        .select_related("condition", "model")
        .order_by("priority", "pk")
    )


def _same(criterion: str, value: str) -> bool:
    return not criterion or criterion.strip().upper() == (value or "").strip().upper()


def rule_matching(
    rules: list[RoutingRule], *, modality: str, body_part: str, series_description: str, sop_class_uid: str
) -> RoutingRule | None:
    """The first of ``rules`` (in order) whose every criterion fits the instance; None when none does."""
    for rule in rules:
        pattern = rule.series_description.strip().lower()
        if (
            _same(rule.modality, modality)
            and _same(rule.body_part, body_part)
            and _same(rule.sop_class_uid, sop_class_uid)
            and (not pattern or fnmatch.fnmatchcase((series_description or "").strip().lower(), pattern))
        ):
            return rule
    return None


# --- Searches (QIDO-RS and C-FIND): a hospital's studies, found by the keyed digests of their UIDs ---------------
#
# The original UIDs and patient identifiers are kept encrypted: studies are found by keyed digests of their
# Study Instance UID and Patient ID (``uid_key``, ``imaging.analyses.patient_digest``), and the other keys
# are matched on the decrypted identifiers of one instance per study. DICOMweb's QIDO-RS (``dicomweb``) and
# the listener's C-FIND (``services.find``) both answer from ``studies_matching``, ``series_matching`` and
# ``instances_matching``: the received instances, and the result objects HealthSync made of them.

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
UID = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
# The matching keys of each level (PS3.18 Table 10.6.1-5, PS3.4 C.6.2.1): any other key is not matched on.
STUDY_KEYS = frozenset(
    {
        "StudyInstanceUID",
        "PatientID",
        "PatientName",
        "AccessionNumber",
        "StudyDate",
        "StudyID",
        "ReferringPhysicianName",
        "ModalitiesInStudy",
    }
)
SERIES_KEYS = frozenset({"SeriesInstanceUID", "Modality"})
INSTANCE_KEYS = frozenset({"SOPInstanceUID", "SOPClassUID"})
UID_KEYS = frozenset({"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID"})
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
# What each level's answers hold (an attribute asked for and not among them is answered empty).
ANSWERED = {
    "STUDY": frozenset(
        {*STUDY_ATTRIBUTES, "ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"}
    ),
    "SERIES": frozenset(
        {
            "StudyInstanceUID",
            "SeriesInstanceUID",
            "Modality",
            "SeriesNumber",
            "SeriesDescription",
            "NumberOfSeriesRelatedInstances",
        }
    ),
    "IMAGE": frozenset(
        {"StudyInstanceUID", "SeriesInstanceUID", "Modality", "SOPClassUID", "SOPInstanceUID", "InstanceNumber"}
    ),
}


def uid_key(kind: str, hospital_id: int, uid: str) -> str:
    """A keyed digest of one of ``hospital_id``'s original UIDs (``kind``: study or series): rows are
    found by it while the UID itself stays encrypted."""
    return salted_hmac(f"healthsync.dicom_node.{kind}", f"{hospital_id}:{uid}").hexdigest()


def checked_uid(value: str, name: str) -> str:
    if len(value) > 64 or not UID.match(value):
        raise DomainError(f"{name} {value[:80]!r} is not a DICOM UID.", fields={name: ["Not a UID."]})
    return value


def matching_keys(keys: dict[str, list[str]]) -> dict[str, list[str]]:
    """Search keys (keyword: values) as the searches take them: a key without a value or with ``*``
    alone dropped (universal matching, PS3.4 C.2.2.2.3), UIDs checked, StudyDate as a range
    ``low-high`` (either end open). ``DomainError`` when a value is malformed."""
    kept = {}
    for keyword, values in keys.items():
        values = [value.strip() for value in values if value.strip()]
        if not values or (keyword not in UID_KEYS and "*" in values):
            continue
        if keyword in UID_KEYS:
            values = [checked_uid(value, keyword) for value in values]
        elif keyword == "StudyDate":
            values = [_date_range(values[0])]
        kept[keyword] = values
    return kept


def _date_range(value: str) -> str:
    low, dash, high = value.partition("-")
    for part in (low, high):
        if part and not re.fullmatch(r"\d{8}", part):
            message = "StudyDate is a date (YYYYMMDD) or a range of them (YYYYMMDD-YYYYMMDD, either end open)."
            raise DomainError(message, fields={"StudyDate": [message]})
    return f"{low}-{high}" if dash else f"{low}-{low}"


def _wildcard(value: str) -> bool:
    return "*" in value or "?" in value


def matches(key: str, wanted: list[str], value) -> bool:
    """Whether ``value`` matches the key's values: a date range, a UID list, else single values with
    the wildcards ``*`` and ``?`` (PS3.4 C.2.2.2)."""
    value = "" if value is None else str(value)
    if key == "StudyDate":
        low, _, high = wanted[0].partition("-")
        return bool(value) and (not low or value >= low) and (not high or value <= high)
    if key in UID_KEYS:
        return value in wanted
    return any(
        re.fullmatch("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), value, re.S)
        if _wildcard(pattern)
        else value == pattern
        for pattern in wanted
    )


@dataclass
class Match:
    """One answer of a search: its attributes (keyword: value), the received instance whose patient
    identifiers they show (None for a result HealthSync made), and whether WADO-RS serves it (a
    result, or a study with results)."""

    attributes: dict
    read: ReceivedInstance | None = None
    retrievable: bool = False


@dataclass
class StudyRecords:
    """A study's received instances (``received_in`` rows) and the result deliveries made of them."""

    key: str
    instances: list[tuple] = field(default_factory=list)
    results: list = field(default_factory=list)

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


def received_in(hospital_id: int, *, study_keys=None, series_key: str | None = None, patient_digests=None):
    """The hospital's received instances (newest first) as (pk, study key, series key, modality, SOP
    class): plain columns only, nothing decrypted."""
    found = ReceivedInstance.objects.filter(hospital_id=hospital_id)
    if study_keys is not None:
        found = found.filter(study_key__in=list(study_keys))
    if series_key is not None:
        found = found.filter(series_key=series_key)
    if patient_digests is not None:
        found = found.filter(patient_digest__in=list(patient_digests))
    return list(
        found.order_by("-received_at", "-pk").values_list("pk", "study_key", "series_key", "modality", "sop_class_uid")
    )


def instances_read(pks) -> dict[int, ReceivedInstance]:
    """The instances ``pks`` with their (encrypted) original identifiers, by pk."""
    return ReceivedInstance.objects.only("pk", "hospital_id", "patient_identifiers", "modality", "status").in_bulk(
        list(pks)
    )


def identifiers_of(instance: ReceivedInstance) -> dict:
    return json.loads(instance.patient_identifiers or "{}")


def results_in(hospital_id: int, study_keys) -> list[ResultDelivery]:
    """The result deliveries (a structured report, and a secondary capture when the analysis has a
    Grad-CAM overlay) made for the hospital's instances of the studies ``study_keys``."""
    return list(
        ResultDelivery.objects.filter(hospital_id=hospital_id, instance__study_key__in=list(study_keys))
        .select_related("analysis__model", "instance")
        .order_by("pk")
    )


def studies_of(hospital_id: int, *, study_keys=None, patient_digests=None) -> dict[str, StudyRecords]:
    studies: dict[str, StudyRecords] = {}
    for row in received_in(hospital_id, study_keys=study_keys, patient_digests=patient_digests):
        studies.setdefault(row[1], StudyRecords(row[1])).instances.append(row)
    for result in results_in(hospital_id, studies):
        studies[result.instance.study_key].results.append(result)
    return studies


def study_of(hospital_id: int, study_uid: str) -> StudyRecords | None:
    """The hospital's study ``study_uid`` (checked), or None when it has none such."""
    key = uid_key("study", hospital_id, checked_uid(study_uid, "study"))
    return studies_of(hospital_id, study_keys=[key]).get(key)


def studies_matching(hospital_id: int, keys: dict, *, offset: int = 0, limit: int | None = None) -> list[Match]:
    """The hospital's studies matching ``keys`` (``matching_keys``, of ``STUDY_KEYS``), newest first."""
    patients = keys.get("PatientID", [])
    by_digest = bool(patients) and not any(_wildcard(value) for value in patients)
    studies = studies_of(
        hospital_id,
        study_keys=[uid_key("study", hospital_id, uid) for uid in keys["StudyInstanceUID"]]
        if "StudyInstanceUID" in keys
        else None,
        patient_digests=[patient_digest(value) for value in patients] if by_digest else None,
    )
    candidates = [
        study
        for study in studies.values()
        if "ModalitiesInStudy" not in keys
        or any(matches("ModalitiesInStudy", keys["ModalitiesInStudy"], value) for value in study.modalities())
    ]
    decrypted = sorted(key for key in STUDY_KEYS - {"StudyInstanceUID", "ModalitiesInStudy"} if key in keys)
    if by_digest:
        decrypted.remove("PatientID")
    found, skipped = [], 0
    for start in range(0, len(candidates), 200):
        chunk = candidates[start : start + 200]
        read = instances_read(study.instances[0][0] for study in chunk)
        for study in chunk:
            instance = read[study.instances[0][0]]
            identifiers = identifiers_of(instance)
            if not all(matches(key, keys[key], identifiers.get(key, "")) for key in decrypted):
                continue
            if skipped < offset:
                skipped += 1
                continue
            found.append(Match(_study_attributes(study, identifiers), instance, retrievable=bool(study.results)))
            if len(found) == limit:
                return found
    return found


def _study_attributes(study: StudyRecords, identifiers: dict) -> dict:
    results = study.result_series()
    return {
        **{keyword: identifiers.get(keyword, "") for keyword in STUDY_ATTRIBUTES},
        "ModalitiesInStudy": sorted(study.modalities()),
        "NumberOfStudyRelatedSeries": len({row[2] for row in study.instances}) + len(results),
        "NumberOfStudyRelatedInstances": len(study.instances) + len(results),
    }


def series_matching(
    hospital_id: int, study_uid: str, keys: dict, *, offset: int = 0, limit: int | None = None
) -> list[Match] | None:
    """The series of the hospital's study ``study_uid`` matching ``keys`` (of ``SERIES_KEYS``): the
    received series, then the results'; None when the hospital has no such study."""
    study = study_of(hospital_id, study_uid)
    if study is None:
        return None
    firsts: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    for row in study.instances:
        firsts.setdefault(row[2], row)
        counts[row[2]] = counts.get(row[2], 0) + 1
    read = instances_read(row[0] for row in firsts.values())
    rows = []
    for series_key, row in firsts.items():
        identifiers = identifiers_of(read[row[0]])
        uid = identifiers.get("SeriesInstanceUID") or identifiers.get("StudyInstanceUID", "")
        attributes = {
            "StudyInstanceUID": study_uid,
            "SeriesInstanceUID": uid,
            "Modality": row[3],
            "SeriesDescription": identifiers.get("SeriesDescription", ""),
            "NumberOfSeriesRelatedInstances": counts[series_key],
        }
        rows.append(Match(attributes, read[row[0]]))
    for series in study.result_series():
        attributes = {
            key: series[key] for key in ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription")
        }
        rows.append(
            Match({"StudyInstanceUID": study_uid, **attributes, "NumberOfSeriesRelatedInstances": 1}, retrievable=True)
        )
    return _page(rows, keys, offset, limit)


def instances_matching(
    hospital_id: int, study_uid: str, series_uid: str, keys: dict, *, offset: int = 0, limit: int | None = None
) -> list[Match] | None:
    """The instances of the series ``series_uid`` of the hospital's study ``study_uid`` matching
    ``keys`` (of ``INSTANCE_KEYS``); None when the hospital has no such study or series."""
    study = study_of(hospital_id, study_uid)
    checked_uid(series_uid, "series")
    if study is None:
        return None
    rows = []
    for series in study.result_series():
        if series["SeriesInstanceUID"] == series_uid:
            attributes = {
                key: series[key] for key in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "Modality")
            }
            rows.append(Match({"StudyInstanceUID": study_uid, **attributes, "InstanceNumber": 1}, retrievable=True))
    series_key = uid_key("series", hospital_id, series_uid)
    members = [row for row in study.instances if row[2] == series_key]
    read = instances_read(row[0] for row in members)
    for row in members:
        identifiers = identifiers_of(read[row[0]])
        attributes = {
            "StudyInstanceUID": study_uid,
            "SOPClassUID": row[4],
            "SOPInstanceUID": identifiers.get("SOPInstanceUID", ""),
            "SeriesInstanceUID": series_uid,
            "Modality": row[3],
        }
        rows.append(Match(attributes, read[row[0]]))
    return _page(rows, keys, offset, limit) if rows else None


def _page(rows: list[Match], keys: dict, offset: int, limit: int | None) -> list[Match]:
    kept = [row for row in rows if all(matches(key, values, row.attributes.get(key)) for key, values in keys.items())]
    return kept[offset : None if limit is None else offset + limit]
