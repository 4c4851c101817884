"""The node as a client (SCU): C-STORE of results to a peer, C-ECHO of the listener (its health)."""

from __future__ import annotations

from django.conf import settings

TIMEOUT_S = 30
# Success and the warnings that still store the instance (PS3.4 B.2.3: coercion, elements discarded, mismatch).
STORED = {0x0000, 0x0001, 0x0107, 0x0116, 0xB000, 0xB006, 0xB007}


def _application_entity(timeout: float):
    from pynetdicom import AE

    ae = AE(ae_title=settings.HEALTHSYNC_DICOM_AE_TITLE.strip())
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = ae.connection_timeout = timeout
    return ae


def store(peer, datasets: list) -> None:
    """C-STORE ``datasets`` (pydicom data sets with file meta) to ``peer`` in one association;
    raises ``services.DeliveryFailed`` unless every one is stored."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    from .services import DeliveryFailed

    ae = _application_entity(TIMEOUT_S)
    for sop_class in dict.fromkeys(str(dataset.SOPClassUID) for dataset in datasets):
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    association = ae.associate(peer.host, peer.port, ae_title=peer.ae_title)
    if not association.is_established:
        state = "rejected" if association.is_rejected else "aborted" if association.is_aborted else "unreachable"
        raise DeliveryFailed(f"{peer} did not accept an association ({state}).")
    try:
        for dataset in datasets:
            status = association.send_c_store(dataset)
            code = int(getattr(status, "Status", -1)) if status else -1
            if code not in STORED:
                comment = str(getattr(status, "ErrorComment", "") or "") if status else ""
                answer = f"status 0x{code:04X}" if code >= 0 else "no answer"
                answer += f": {comment}" if comment else ""
                raise DeliveryFailed(f"{peer} did not store the {dataset.Modality} instance ({answer}).")
    finally:
        if association.is_established:
            association.release()


def echo(*, host: str, port: int, timeout: float = 2.0) -> bool:
    """Whether a node answers a C-ECHO at ``host:port`` addressed to this node's AE title, as this node."""
    from pynetdicom.sop_class import Verification

    ae = _application_entity(timeout)
    ae.add_requested_context(Verification)
    association = ae.associate(host, port, ae_title=settings.HEALTHSYNC_DICOM_AE_TITLE.strip())
    if not association.is_established:
        return False
    try:
        status = association.send_c_echo()
        return bool(status) and int(getattr(status, "Status", -1)) == 0x0000
    finally:
        if association.is_established:
            association.release()
