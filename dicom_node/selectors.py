"""Reads of the DICOM node: which trusted peer is calling, which routing rule fits an instance."""

from __future__ import annotations

import fnmatch
import ipaddress
import socket

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
        return {_normalised(info[4][0]) for info in socket.getaddrinfo(host, None)}
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


# --- DICOMweb (QIDO-RS, WADO-RS): a hospital's studies, found by the keyed digests of their UIDs -------------


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


def results_in(hospital_id: int, study_keys) -> list[ResultDelivery]:
    """The result deliveries (a structured report, and a secondary capture when the analysis has a
    Grad-CAM overlay) made for the hospital's instances of the studies ``study_keys``."""
    return list(
        ResultDelivery.objects.filter(hospital_id=hospital_id, instance__study_key__in=list(study_keys))
        .select_related("analysis__model", "instance")
        .order_by("pk")
    )
