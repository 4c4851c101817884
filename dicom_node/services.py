"""The DICOM node's rules: who may send, what is kept of what they send, where it is analysed, and
how the results go back.

* An association is accepted only from a peer a hospital registered (AE title and host), addressed
  to this node's AE title; the listener's own health probe (its AE title, from this machine) may
  echo and nothing else.
* Each instance is checked, de-identified and stored exactly as an HTTP upload
  (``imaging.uploads.read_study``), its original identifiers encrypted; a refused instance leaves
  no row and no file, and gets a DIMSE failure status saying why.
* At the end of the association (released, aborted, or found interrupted by the sweep) its
  instances are routed by the hospital's rules and each series goes to analysis as one batch
  (``imaging.analyses.studies_submit``); an instance no rule fits, or that its model refuses, waits
  for a person to choose in the console.
* Each finished analysis of a received instance gets its results (``results``) sent back to the
  hospital's destination AE, retried until it takes them.

Nothing here depends on DIMSE but the session: the DICOMweb front (``dicomweb``: STOW-RS in, QIDO-RS
and WADO-RS out) records each STOW-RS request as an exchange (``exchange_open``) and goes through
``instance_receive``, ``association_close`` (so ``route``) and ``results_of`` as the listener does.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.db import DatabaseError, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from healthsync.errors import Conflict, DomainError, Forbidden
from healthsync.permissions import ACT, can
from imaging.analyses import MAX_BATCH, models_choose, patient_digest, studies_submit
from imaging.models import AnalysisStatus, ImageAnalysis
from imaging.uploads import KEPT_IDENTIFIERS, Study, UploadRefused, read_study
from lib import files

from . import results, selectors
from .models import (
    AssociationStatus,
    DeliveryStatus,
    DicomAssociation,
    DicomPeer,
    InstanceStatus,
    ReceivedInstance,
    ResultDelivery,
    RoutingRule,
)

logger = logging.getLogger(__name__)

# DIMSE statuses (PS3.4 Annex B.2.3, PS3.7 Annex C); DICOMweb's FailureReason uses them too (PS3.18 I.2).
SUCCESS = 0x0000
SOP_CLASS_NOT_SUPPORTED = 0x0122
NOT_AUTHORISED = 0x0124
OUT_OF_RESOURCES = 0xA700
DATA_SET_DOES_NOT_MATCH = 0xA900
CANNOT_UNDERSTAND = 0xC000
# A-ASSOCIATE-RJ diagnostics (PS3.8 9.3.4), source: service user.
CALLING_AE_NOT_RECOGNISED = 0x03
CALLED_AE_NOT_RECOGNISED = 0x07

# The storage SOP classes of the images the models read (single-frame radiography, MR, ultrasound,
# photographs); any other storage SOP class is refused with 0x0122.
ANALYSABLE_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.4": "MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.6.1": "Ultrasound Image Storage",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.77.1.4": "VL Photographic Image Storage",
    "1.2.840.10008.5.1.4.1.1.77.1.5.1": "Ophthalmic Photography 8 Bit Image Storage",
    "1.2.840.10008.5.1.4.1.1.77.1.5.2": "Ophthalmic Photography 16 Bit Image Storage",
}
# What a refused upload's code means as a C-STORE status.
REFUSAL_STATUS = {"image_too_large": OUT_OF_RESOURCES, "no_pixel_data": DATA_SET_DOES_NOT_MATCH}
# The identifiers kept (encrypted) with a received instance: an upload's, and what the results and routing need.
IDENTIFIERS = KEPT_IDENTIFIERS + results.RESULT_IDENTIFIERS
# An open association idle this long belonged to a listener that stopped: the sweep ends it.
INTERRUPTED_AFTER = timedelta(minutes=10)
DELIVERY_MAX_ATTEMPTS = 20


def max_instance_bytes() -> int:
    return settings.HEALTHSYNC_DICOM_MAX_INSTANCE_MB * 1024 * 1024


# --- Peers and routing rules (the console's writes) -------------------------------------------------------


def peer_save(*, peer: DicomPeer) -> DicomPeer:
    """Register or change a trusted peer: AE title without padding, a host that names an address."""
    peer.ae_title = peer.ae_title.strip()
    peer.host = peer.host.strip()
    if not selectors.host_addresses(peer.host):
        raise DomainError(
            f"{peer.host!r} is neither an IP address nor a host name this server can resolve.",
            fields={"host": ["Unknown host."]},
        )
    peer.save()
    return peer


def rule_save(*, rule: RoutingRule) -> RoutingRule:
    """Save a routing rule whose model, when it names one, covers its condition (as a request would be checked)."""
    models_choose(condition=rule.condition.code, model=_model_reference(rule.model))
    rule.save()
    return rule


def _model_reference(model) -> str | None:
    return f"{model.name}:{model.version}" if model is not None else None


# --- Associations -------------------------------------------------------------------------------------------


class AssociationRefused(Exception):
    def __init__(self, reason: str, *, diagnostic: int):
        super().__init__(reason)
        self.reason, self.diagnostic = reason, diagnostic


@dataclass
class Session:
    """An accepted association: its record and hospital (None for the listener's own probe)."""

    association_id: int | None
    hospital_id: int | None
    calling_ae: str
    closed: bool = False


def _is_loopback(address: str) -> bool:
    import ipaddress

    with suppress(ValueError):
        return ipaddress.ip_address(selectors._normalised(address)).is_loopback
    return False


def association_open(*, calling_ae: str, called_ae: str, address: str, port: int | None) -> Session:
    """Accept an association from a registered peer (recorded), or refuse it (recorded, then raised)."""
    calling_ae, called_ae, own = calling_ae.strip(), called_ae.strip(), settings.HEALTHSYNC_DICOM_AE_TITLE.strip()
    if called_ae != own:
        reason, diagnostic, peer = (
            f"Called AE title {called_ae!r} is not this node's ({own}).",
            CALLED_AE_NOT_RECOGNISED,
            None,
        )
    elif calling_ae == own and _is_loopback(address):
        return Session(association_id=None, hospital_id=None, calling_ae=calling_ae)  # the health probe
    else:
        peer = selectors.peer_for(ae_title=calling_ae, address=address)
        reason, diagnostic = f"No hospital trusts {calling_ae!r} calling from {address}.", CALLING_AE_NOT_RECOGNISED
    record = DicomAssociation.objects.create(
        hospital=peer.hospital if peer else None,
        peer=peer,
        calling_ae=calling_ae[:16],
        called_ae=called_ae[:16],
        host=address[:255],
        port=port,
        status=AssociationStatus.OPEN if peer else AssociationStatus.REJECTED,
        detail="" if peer else reason,
        ended_at=None if peer else timezone.now(),
    )
    if peer is None:
        logger.warning("DICOM association rejected: %s", reason)
        raise AssociationRefused(reason, diagnostic=diagnostic)
    return Session(association_id=record.pk, hospital_id=peer.hospital_id, calling_ae=calling_ae)


# The calling AE title that a DICOMweb STOW-RS exchange is recorded under.
STOW_CALLING_AE = "STOW-RS"


def exchange_open(*, hospital_id: int, user, address: str) -> Session:
    """Record a DICOMweb STOW-RS request of ``user`` for ``hospital_id`` as an exchange (an association
    with no peer): its instances are received and routed as an association's are."""
    record = DicomAssociation.objects.create(
        hospital_id=hospital_id,
        calling_ae=STOW_CALLING_AE,
        called_ae=settings.HEALTHSYNC_DICOM_AE_TITLE.strip()[:16],
        host=(address or "")[:255],
        sent_by=user,
    )
    return Session(association_id=record.pk, hospital_id=hospital_id, calling_ae=STOW_CALLING_AE)


def association_close(session: Session, *, status: str) -> None:
    """End an accepted association (released or aborted) once, then route what it brought."""
    if session.closed or session.association_id is None:
        return
    session.closed = True
    ended = DicomAssociation.objects.filter(pk=session.association_id, status=AssociationStatus.OPEN).update(
        status=status, ended_at=timezone.now()
    )
    if ended:
        instances_route(association_id=session.association_id)


def associations_interrupted(*, idle: timedelta = INTERRUPTED_AFTER) -> int:
    """End the associations left open by a listener that stopped (idle past ``idle``), routing their
    instances: every stored instance was acknowledged to its sender, so none may be left behind."""
    stale = DicomAssociation.objects.filter(status=AssociationStatus.OPEN, last_activity_at__lt=timezone.now() - idle)
    ended = 0
    for association_id in stale.values_list("pk", flat=True):
        if DicomAssociation.objects.filter(pk=association_id, status=AssociationStatus.OPEN).update(
            status=AssociationStatus.INTERRUPTED, ended_at=timezone.now()
        ):
            instances_route(association_id=association_id)
            ended += 1
    return ended


# --- Instances ----------------------------------------------------------------------------------------------


class InstanceRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Outcome:
    """A C-STORE's answer: its DIMSE status and, for a failure, why (the response's Error Comment)."""

    status: int
    comment: str = ""


def instance_receive(session: Session, *, sop_class_uid: str, data: bytes, study_uid: str | None = None) -> Outcome:
    """Check and keep one received instance (a DICOM file: preamble, file meta, data set) for the
    session's hospital; the status to answer. Nothing is kept of a refused instance. ``study_uid``:
    the study it must belong to (a STOW-RS request to one study's URL)."""
    if session.association_id is None or session.hospital_id is None:
        return Outcome(NOT_AUTHORISED, "This association is the node's own health probe: it stores nothing.")
    try:
        instance_store(
            hospital_id=session.hospital_id,
            association_id=session.association_id,
            sop_class_uid=sop_class_uid,
            data=data,
            study_uid=study_uid,
        )
    except InstanceRefused as refusal:
        logger.info("DICOM instance from %s refused (0x%04X): %s", session.calling_ae, refusal.status, refusal.message)
        _count(session, refused=refusal.message)
        return Outcome(refusal.status, refusal.message)
    except (DatabaseError, OSError) as error:  # storage or database out of reach: the sender may try again
        logger.exception("DICOM instance from %s not stored", session.calling_ae)
        _count(session, refused=f"Not stored ({error.__class__.__name__}); send it again later.")
        return Outcome(OUT_OF_RESOURCES, "HealthSync could not store the instance now; send it again later.")
    _count(session)
    return Outcome(SUCCESS)


def _count(session: Session, *, refused: str | None = None) -> None:
    if session.association_id is None:  # the listener's own probe keeps no record
        return
    changes = (
        {"refused": F("refused") + 1, "detail": refused[:2000]}
        if refused is not None
        else {"received": F("received") + 1}
    )
    with suppress(DatabaseError):  # the count is a record of the outcome, never a reason to change it
        DicomAssociation.objects.filter(pk=session.association_id).update(last_activity_at=timezone.now(), **changes)


def instance_store(
    *, hospital_id: int, association_id: int, sop_class_uid: str, data: bytes, study_uid: str | None = None
) -> ReceivedInstance:
    """Check, de-identify and keep one instance (a DICOM file) of ``hospital_id`` received in the
    recorded exchange ``association_id``, whatever brought it (DIMSE here; DICOMweb STOW-RS can call
    this too); raises ``InstanceRefused`` with the DIMSE status that says why, keeping nothing."""
    import pydicom

    if sop_class_uid not in ANALYSABLE_SOP_CLASSES:
        from pydicom.uid import UID

        name = UID(sop_class_uid).name
        raise InstanceRefused(SOP_CLASS_NOT_SUPPORTED, f"{name} is not a SOP class HealthSync analyses.")
    if len(data) > max_instance_bytes():
        raise InstanceRefused(
            OUT_OF_RESOURCES, f"The instance is larger than {settings.HEALTHSYNC_DICOM_MAX_INSTANCE_MB} MB."
        )
    try:
        study = read_study(data, name="The instance", identifiers=IDENTIFIERS)
    except UploadRefused as refusal:
        raise InstanceRefused(REFUSAL_STATUS.get(refusal.code, CANNOT_UNDERSTAND), refusal.message) from None
    if study.kind != "dicom":  # the listener hands over DICOM files only
        raise InstanceRefused(CANNOT_UNDERSTAND, "The instance is not a DICOM data set.")
    header = pydicom.dcmread(io.BytesIO(study.stored), stop_before_pixels=True, specific_tags=["SOPClassUID"])
    if str(header.get("SOPClassUID", "")) != sop_class_uid:
        raise InstanceRefused(
            DATA_SET_DOES_NOT_MATCH, "The data set's SOP Class UID is not the one the request (or file meta) names."
        )
    identifiers = study.identifiers
    if not identifiers.get("SOPInstanceUID") or not identifiers.get("StudyInstanceUID"):
        raise InstanceRefused(DATA_SET_DOES_NOT_MATCH, "The data set has no SOP Instance UID or Study Instance UID.")
    if study_uid is not None and identifiers["StudyInstanceUID"] != study_uid:
        raise InstanceRefused(DATA_SET_DOES_NOT_MATCH, "The data set belongs to another study than the one named.")
    instance = ReceivedInstance(
        hospital_id=hospital_id,
        association_id=association_id,
        sop_class_uid=sop_class_uid,
        modality=study.metadata.get("modality", "")[:16],
        body_part=study.metadata.get("body_part", "")[:64],
        **search_keys(hospital_id, identifiers),
        study_metadata=study.metadata,
        patient_identifiers=json.dumps(identifiers),
    )
    field = cast(models.FileField, ReceivedInstance._meta.get_field("file"))
    [instance.file.name] = files.save_new(
        field.storage, [(field.generate_filename(instance, f"{uuid.uuid4().hex}.dcm"), study.stored)]
    )
    try:
        instance.save()
    except BaseException:
        field.storage.delete(instance.file.name)
        raise
    return instance


def search_keys(hospital_id: int, identifiers: dict) -> dict[str, str]:
    """A received instance's digests, from its original identifiers: its series and study (the
    series of an instance without one is its study), and its Patient ID as imaging's search keys it."""
    study = identifiers.get("StudyInstanceUID", "")
    return {
        "series_key": selectors.uid_key("series", hospital_id, identifiers.get("SeriesInstanceUID") or study),
        "study_key": selectors.uid_key("study", hospital_id, study),
        "patient_digest": patient_digest(identifiers.get("PatientID", "")),
    }


def _study(instance: ReceivedInstance) -> tuple[str, Study]:
    """The stored instance as ``read_study`` gave it, named for the console (the name is kept encrypted)."""
    identifiers = json.loads(instance.patient_identifiers or "{}")
    with instance.file.open("rb") as stored:
        data = stored.read()
    described = f"{instance.modality} {identifiers.get('SeriesDescription', '')}".strip()
    name = f"DICOM from {instance.association.calling_ae}: {described}"
    return name, Study(kind="dicom", stored=data, metadata=instance.study_metadata, identifiers=identifiers)


def instances_route(*, association_id: int) -> dict[str, int]:
    """Route the stored instances of an ended association: each series (per rule) is one batch."""
    return route(
        list(
            ReceivedInstance.objects.filter(association_id=association_id, status=InstanceStatus.RECEIVED)
            .select_related("association")
            .order_by("pk")
        )
    )


def route(pending: list[ReceivedInstance]) -> dict[str, int]:
    """Route instances of one hospital that arrived together: by its rules, each series one batch
    (``MAX_BATCH`` at most); how many went to analysis and how many wait for a person."""
    outcome = {"analysing": 0, "waiting": 0}
    if not pending:
        return outcome
    rules = selectors.active_rules(pending[0].hospital_id)
    groups: dict[tuple[str, int], list[ReceivedInstance]] = {}
    unrouted = []
    for instance in pending:
        identifiers = json.loads(instance.patient_identifiers or "{}")
        rule = selectors.rule_matching(
            rules,
            modality=instance.modality,
            body_part=instance.body_part,
            series_description=identifiers.get("SeriesDescription", ""),
            sop_class_uid=instance.sop_class_uid,
        )
        if rule is None:
            unrouted.append(instance)
        else:
            groups.setdefault((instance.series_key, rule.pk), []).append(instance)
    _wait(unrouted, "No routing rule of the hospital fits this instance: choose a condition to analyse it for.")
    outcome["waiting"] += len(unrouted)
    by_id = {rule.pk: rule for rule in rules}
    for (_, rule_id), members in groups.items():
        for start in range(0, len(members), MAX_BATCH):
            analysed = _route(members[start : start + MAX_BATCH], by_id[rule_id])
            outcome["analysing"] += analysed
            outcome["waiting"] += len(members[start : start + MAX_BATCH]) - analysed
    return outcome


def _route(instances: list[ReceivedInstance], rule: RoutingRule) -> int:
    """Submit ``instances`` as one batch for the rule's condition; when the batch is refused, each on
    its own, and those refused wait for a person with the reason. Returns how many were submitted."""
    try:
        _analyse(instances, condition=rule.condition, model=rule.model, rule=rule)
        return len(instances)
    except DomainError as refusal:
        if len(instances) == 1:
            _wait(instances, f"Routed to {rule.condition} but not analysed: {refusal.message}", rule=rule)
            return 0
    return sum(_route([instance], rule) for instance in instances)


def _wait(instances: list[ReceivedInstance], reason: str, *, rule: RoutingRule | None = None) -> None:
    ReceivedInstance.objects.filter(
        pk__in=[instance.pk for instance in instances], status=InstanceStatus.RECEIVED
    ).update(status=InstanceStatus.WAITING, reason=reason[:2000], rule=rule)


def _analyse(
    instances: list[ReceivedInstance], *, condition, model=None, rule=None, user=None, force: bool = False
) -> list[ImageAnalysis]:
    """Submit ``instances`` (received or waiting) as one batch; they give up their files once submitted."""
    studies = [_study(instance) for instance in instances]
    with transaction.atomic():
        claimed = ReceivedInstance.objects.select_for_update().filter(
            pk__in=[instance.pk for instance in instances], status__in=(InstanceStatus.RECEIVED, InstanceStatus.WAITING)
        )
        if len(claimed) != len(instances):
            raise Conflict("These instances were sent for analysis already.", code="already_analysing")
        created = studies_submit(
            hospital=instances[0].hospital,
            user=user,
            studies=studies,
            condition=condition.code,
            model=_model_reference(model),
            force=force,
        )
        per_instance = len(created) // len(instances)
        now = timezone.now()
        for index, instance in enumerate(instances):
            instance.analyses.add(*created[index * per_instance : (index + 1) * per_instance])
            instance.status, instance.submitted_at, instance.reason, instance.rule = (
                InstanceStatus.ANALYSING,
                now,
                "",
                rule,
            )
        names = [instance.file.name for instance in instances]
        for instance in instances:
            instance.file = ""
        ReceivedInstance.objects.bulk_update(instances, ["status", "submitted_at", "reason", "rule", "file"])
        storage = cast(models.FileField, ReceivedInstance._meta.get_field("file")).storage

        def delete_copies() -> None:  # the analyses keep their own copy
            for name in names:
                if name:
                    storage.delete(name)

        transaction.on_commit(delete_copies)
    return created


def instance_analyse(
    *, instance: ReceivedInstance, condition, by, model=None, force: bool = False
) -> list[ImageAnalysis]:
    """Staff choose the condition (and model) for an instance waiting for a person; ``force`` as on
    the analysis page (an image only unlike the model's is analysed, with the warning)."""
    if not can(by, ACT, instance.hospital):
        raise Forbidden("Only the hospital's own staff choose how its instances are analysed.")
    if instance.status != InstanceStatus.WAITING:
        raise Conflict("Only an instance waiting for a person can be sent for analysis.", code="not_waiting")
    return _analyse([instance], condition=condition, model=model, user=by, force=force)


# --- Queries (C-FIND, Study Root) ---------------------------------------------------------------------------

# C-FIND statuses (PS3.4 C.4.1.1.4).
PENDING = 0xFF00
PENDING_WARNING = 0xFF01  # an optional key was not supported for matching or existence
IDENTIFIER_DOES_NOT_MATCH = 0xA900
UNABLE_TO_PROCESS = 0xC000
# The Study Root levels: the unique keys down to each, and the matching keys it supports (QIDO-RS's).
FIND_LEVELS = {
    "STUDY": (("StudyInstanceUID",), selectors.STUDY_KEYS),
    "SERIES": (("StudyInstanceUID", "SeriesInstanceUID"), selectors.SERIES_KEYS),
    "IMAGE": (("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"), selectors.INSTANCE_KEYS),
}
NOT_KEYS = {"SpecificCharacterSet", "QueryRetrieveLevel"}


@dataclass
class Answers:
    """A C-FIND's answer: a failure status (and why), or the pending status and one identifier per match."""

    status: int
    comment: str = ""
    identifiers: list = field(default_factory=list)


def find(session: Session, identifier, *, address: str = "") -> Answers:
    """Answer a Study Root C-FIND for the session's hospital from the searches QIDO-RS uses
    (``selectors.studies_matching`` and the rest): its studies, and the results HealthSync made.

    Hierarchical (baseline) search, PS3.4 C.4.1: the unique keys of the levels above the query level
    must each hold one UID. A key that is not matched on (``selectors.*_KEYS``) is ignored for
    matching, and an attribute HealthSync does not keep is answered empty: either makes the pending
    status 0xFF01. Each match's identifier holds the keys asked for, the unique keys down to the level,
    and the level. The patient identifiers shown are recorded in the audit trail as read."""
    from pydicom.dataset import Dataset

    if session.association_id is None:
        return Answers(NOT_AUTHORISED, "This association is the node's own health probe: it queries nothing.")
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if level not in FIND_LEVELS:
        return Answers(
            IDENTIFIER_DOES_NOT_MATCH, f"Query/Retrieve Level {level!r} is not STUDY, SERIES or IMAGE (Study Root)."
        )
    unique, supported = FIND_LEVELS[level]
    asked, keys, unsupported = [], {}, False
    for element in identifier:
        keyword = element.keyword
        if keyword in NOT_KEYS or element.tag.element == 0:
            continue
        asked.append(element)
        values = _values(element)
        if keyword in supported or keyword in unique[:-1]:
            keys[keyword] = values
        elif values or keyword not in selectors.ANSWERED[level]:
            unsupported = True  # not matched on, or not kept
    above = {keyword: keys.pop(keyword, []) for keyword in unique[:-1]}
    missing = [keyword for keyword, values in above.items() if len(values) != 1]
    if missing:
        return Answers(
            IDENTIFIER_DOES_NOT_MATCH, f"A {level} query names one {' and one '.join(missing)} (hierarchical search)."
        )
    try:
        keys = selectors.matching_keys(keys)
        uids = [selectors.checked_uid(values[0].strip(), keyword) for keyword, values in above.items()]
    except DomainError as error:
        return Answers(UNABLE_TO_PROCESS, error.message)
    hospital_id = cast(int, session.hospital_id)  # an accepted peer's hospital
    found: list[selectors.Match] | None
    if level == "STUDY":
        found = selectors.studies_matching(hospital_id, keys)
    elif level == "SERIES":
        found = selectors.series_matching(hospital_id, uids[0], keys)
    else:
        found = selectors.instances_matching(hospital_id, uids[0], uids[1], keys)
    found = found or []
    answers = Answers(PENDING_WARNING if unsupported else PENDING)
    for match in found:
        answer = Dataset()
        answer.SpecificCharacterSet = "ISO_IR 192"
        answer.QueryRetrieveLevel = level
        for keyword in unique:
            setattr(answer, keyword, match.attributes.get(keyword, ""))
        for element in asked:
            if element.keyword not in unique:
                value = match.attributes.get(element.keyword)
                answer.add_new(element.tag, element.VR, [] if element.VR == "SQ" else value if value != "" else None)
        answers.identifiers.append(answer)
    _queried(session.association_id, session.calling_ae, [match.read for match in found if match.read], address=address)
    return answers


def _values(element) -> list[str]:
    """A key's values as strings (none for a return key, zero length): a UID list split on backslashes."""
    from pydicom.multival import MultiValue

    if element.VR == "SQ" or element.value is None or element.value == "":
        return []
    values = list(element.value) if isinstance(element.value, MultiValue | list) else [element.value]
    return [str(value) for value in values if str(value).strip()]


def _queried(association_id: int, calling_ae: str, read: list, *, address: str) -> None:
    """The association was active; the received instances whose patient identifiers it was shown are
    recorded as read (one audit entry each, naming the peer)."""
    from auditlog.models import LogEntry

    from healthsync.audit import record

    DicomAssociation.objects.filter(pk=association_id).update(last_activity_at=timezone.now())
    record(
        list({instance.pk: instance for instance in read}.values()),
        action=LogEntry.Action.ACCESS,
        remote_addr=address or None,
        changes=lambda instance: {
            "fields read": [None, ["patient_identifiers"]],
            "C-FIND by": [None, calling_ae],
        },
    )


# --- Results ------------------------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    pass


def deliveries_create(*, analysis_ids: list[int]) -> list[int]:
    """A delivery for each finished analysis of a received instance that has none; returns their ids,
    to be queued once this commits (``tasks.send_results``)."""
    from pydicom.uid import generate_uid

    finished = ImageAnalysis.objects.filter(
        pk__in=analysis_ids, status=AnalysisStatus.DONE, dicom_instances__isnull=False, dicom_delivery__isnull=True
    ).distinct()
    created = []
    for analysis in finished:
        instance = analysis.dicom_instances.order_by("pk").first()
        if instance is None:  # not after the filter above; a type checker cannot know
            continue
        delivery, made = ResultDelivery.objects.get_or_create(
            analysis=analysis,
            defaults={
                "instance": instance,
                "hospital_id": analysis.hospital_id,
                "next_attempt_at": timezone.now(),
                "series_uid": generate_uid(),
                "report_uid": generate_uid(),
                "capture_uid": generate_uid(),
                "capture_series_uid": generate_uid(),
            },
        )
        if made:
            created.append(delivery.pk)
    return created


def results_of(delivery: ResultDelivery) -> list:
    """The delivery's structured report and Grad-CAM secondary capture (pydicom data sets), in the
    source study with its original identifiers."""
    analysis = delivery.analysis
    identifiers = results.original_identifiers(analysis)
    source = results.source_dataset(
        identifiers=identifiers, sop_class_uid=delivery.instance.sop_class_uid, modality=delivery.instance.modality
    )
    device = salted_hmac("healthsync.dicom_node.device", settings.HEALTHSYNC_DICOM_AE_TITLE).hexdigest()
    report = results.structured_report(
        source=source,
        analysis=analysis,
        series_uid=delivery.series_uid,
        sop_instance_uid=delivery.report_uid,
        device_uid=f"2.25.{int(device[:30], 16)}",
    )
    datasets = [report]
    if analysis.gradcam:
        with analysis.gradcam.open("rb") as overlay:
            datasets.append(
                results.secondary_capture(
                    source=source,
                    overlay_png=overlay.read(),
                    analysis=analysis,
                    series_uid=delivery.capture_series_uid,
                    sop_instance_uid=delivery.capture_uid,
                )
            )
    return datasets


def delivery_send(*, delivery_id: int) -> str:
    """Send one delivery's results to its hospital's destination AE; its status after. Raises
    ``DeliveryFailed`` when they could not be sent (recorded, with when to try again)."""
    from . import scu

    delivery = ResultDelivery.objects.select_related("analysis__model", "instance__association", "hospital").get(
        pk=delivery_id
    )
    if delivery.status != DeliveryStatus.PENDING:
        return delivery.status
    destination = selectors.destination_of(delivery.hospital_id)
    try:
        if destination is None:
            raise DeliveryFailed("The hospital has no results destination among its DICOM peers.")
        scu.store(destination, results_of(delivery))
    except Exception as error:
        _delivery_failed(delivery, error, destination)
        raise DeliveryFailed(str(error)) from error
    ResultDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.SENT,
        sent_at=timezone.now(),
        attempts=F("attempts") + 1,
        last_error="",
        next_attempt_at=None,
        destination=str(destination),
    )
    return DeliveryStatus.SENT


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def _delivery_failed(delivery: ResultDelivery, error: Exception, destination) -> None:
    attempts = delivery.attempts + 1
    gave_up = attempts >= DELIVERY_MAX_ATTEMPTS
    logger.warning(
        "results of analysis %s not sent to %s (attempt %s): %s", delivery.analysis_id, destination, attempts, error
    )
    ResultDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        attempts=attempts,
        last_error=f"{error.__class__.__name__}: {error}"[:2000],
        destination=str(destination or ""),
        status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
        next_attempt_at=None if gave_up else timezone.now() + retry_delay(attempts),
    )


def deliveries_due() -> list[int]:
    """Pending deliveries whose next attempt is due (their task's retries ran out, or its message was lost)."""
    return list(
        ResultDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()).values_list(
            "pk", flat=True
        )
    )


def delivery_retry(*, delivery: ResultDelivery, by) -> ResultDelivery:
    """Staff send a delivery that gave up (or waits) again now."""
    if not can(by, ACT, delivery.hospital):
        raise Forbidden("Only the hospital's own staff resend its results.")
    if delivery.status == DeliveryStatus.SENT:
        raise Conflict("These results were sent already.", code="already_sent")
    ResultDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    delivery.refresh_from_db()
    return delivery
