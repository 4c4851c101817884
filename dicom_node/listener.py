"""The DIMSE listener (pynetdicom): Verification, Storage and Study Root Query (C-FIND) SCP, its
handlers thin over ``services``.

Each association runs in a thread of its own. It is checked when requested (``EVT_REQUESTED``: an
unknown peer gets an A-ASSOCIATE-RJ), each C-STORE is answered once the instance is stored or
refused, and its instances are routed when it ends (released, aborted, or the connection dropped).
Any storage presentation context is accepted, so that an instance of a SOP class HealthSync does
not analyse gets a C-STORE failure (0x0122) the sender can read, rather than no context at all.
A C-FIND (STUDY, SERIES or IMAGE level) is answered from the searches QIDO-RS uses
(``services.find`` over ``selectors.studies_matching`` and the rest): the peer's hospital's studies only.

``manage.py dicom_listener`` runs it in the foreground; ``manage.py serve`` runs it in a thread in
the embedded mode (``start_in_thread``).
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connections

from . import services

logger = logging.getLogger(__name__)
ACSE_TIMEOUT_S = 30
MAX_ASSOCIATIONS = 16

_server = None  # this process's running server, if any
_server_lock = threading.Lock()


def _session(assoc) -> services.Session | None:
    return getattr(assoc, "healthsync_session", None)


def _reject(assoc, result: int, diagnostic: int) -> None:
    """A-ASSOCIATE-RJ by the service user, then wait (as pynetdicom's own rejections do) until the
    peer has read it and closed the connection, or the ARTIM timer closed it."""
    assoc.acse.send_reject(result, 0x01, diagnostic)
    assoc.kill()
    connections.close_all()  # the association's thread ends here


def _on_requested(event) -> None:
    requestor = event.assoc.requestor
    request = requestor.primitive
    try:
        session = services.association_open(
            calling_ae=str(request.calling_ae_title),
            called_ae=str(request.called_ae_title),
            address=str(requestor.address),
            port=requestor.port,
        )
    except services.AssociationRefused as refusal:
        _reject(event.assoc, 0x01, refusal.diagnostic)  # rejected permanent
        return
    except Exception:  # the database is out of reach: try again later (transient, no reason given)
        logger.exception("DICOM association from %s not checked", requestor.address)
        _reject(event.assoc, 0x02, 0x01)
        return
    event.assoc.healthsync_session = session


def _on_echo(event) -> int:
    return services.SUCCESS


def _on_store(event):
    from pydicom.dataset import Dataset

    session = _session(event.assoc)
    try:
        data = event.encoded_dataset(include_meta=True)
        sop_class_uid = str(event.request.AffectedSOPClassUID)
    except Exception as error:  # a request pynetdicom could not take apart
        outcome = services.Outcome(
            services.CANNOT_UNDERSTAND, f"The request cannot be read ({error.__class__.__name__})."
        )
    else:
        outcome = (
            services.instance_receive(session, sop_class_uid=sop_class_uid, data=data)
            if session
            else services.Outcome(services.NOT_AUTHORISED, "Association not accepted.")
        )
    status = Dataset()
    status.Status = outcome.status
    if outcome.comment:
        status.ErrorComment = outcome.comment[:64]  # LO
    return status


def _status(status: int, comment: str = ""):
    from pydicom.dataset import Dataset

    answer = Dataset()
    answer.Status = status
    if comment:
        answer.ErrorComment = comment[:64]  # LO
    return answer


def _on_find(event):
    """C-FIND (Study Root): the hospital's studies, series and instances, as QIDO-RS finds them."""
    session = _session(event.assoc)
    if session is None:
        yield _status(services.NOT_AUTHORISED, "Association not accepted."), None
        return
    try:
        identifier = event.identifier
    except Exception as error:  # an identifier pynetdicom could not decode
        yield _status(services.UNABLE_TO_PROCESS, f"The identifier cannot be read ({error.__class__.__name__})."), None
        return
    try:
        answers = services.find(session, identifier, address=str(event.assoc.requestor.address))
    except Exception:  # the database is out of reach
        logger.exception("C-FIND from %s not answered", session.calling_ae)
        yield _status(services.UNABLE_TO_PROCESS, "The query could not be answered now."), None
        return
    if answers.status not in (services.PENDING, services.PENDING_WARNING):
        yield _status(answers.status, answers.comment), None
        return
    for answer in answers.identifiers:
        if event.is_cancelled:
            yield 0xFE00, None  # Cancel
            return
        yield answers.status, answer
    yield services.SUCCESS, None


def _ended(event, status: str) -> None:
    """Route what the association brought, then drop this thread's database connection: the
    association's thread (or the connection's, for a dropped one) ends after this."""
    session = _session(event.assoc)
    try:
        if session is not None and not session.closed:
            services.association_close(session, status=status)
    except Exception:  # its instances stay stored; the sweep routes them
        logger.exception("DICOM association %s not closed", session.association_id)
    finally:
        connections.close_all()


def _on_released(event) -> None:
    _ended(event, services.AssociationStatus.RELEASED)


def _on_aborted(event) -> None:
    _ended(event, services.AssociationStatus.ABORTED)


def _on_connection_closed(event) -> None:
    """The peer went without a release (dropped mid-transfer): what was stored is routed all the same."""
    session = _session(event.assoc)
    if session is not None and not session.closed:
        _ended(event, services.AssociationStatus.ABORTED)


def handlers() -> list:
    from pynetdicom import evt

    return [
        (evt.EVT_REQUESTED, _on_requested),
        (evt.EVT_C_ECHO, _on_echo),
        (evt.EVT_C_STORE, _on_store),
        (evt.EVT_C_FIND, _on_find),
        (evt.EVT_RELEASED, _on_released),
        (evt.EVT_ABORTED, _on_aborted),
        (evt.EVT_CONN_CLOSE, _on_connection_closed),
    ]


def application_entity():
    """The node's AE: Verification, Study Root C-FIND and every storage SOP class, in any transfer syntax."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification

    ae = AE(ae_title=settings.HEALTHSYNC_DICOM_AE_TITLE.strip())
    ae.add_supported_context(Verification)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.acse_timeout = ACSE_TIMEOUT_S
    ae.dimse_timeout = ae.network_timeout = settings.HEALTHSYNC_DICOM_TIMEOUT_S
    ae.maximum_associations = MAX_ASSOCIATIONS
    return ae


def serve(*, host: str, port: int, block: bool = True):
    """Listen on ``host:port``: forever when ``block``, else in a thread (the server is returned)."""
    global _server
    server = application_entity().start_server((host, port), block=False, evt_handlers=handlers())
    with _server_lock:
        _server = server
    logger.info("DICOM node %s listening on %s:%s", settings.HEALTHSYNC_DICOM_AE_TITLE, host, server.server_address[1])
    if block:
        try:
            threading.Event().wait()
        finally:
            stop()
    return server


def stop() -> None:
    global _server
    with _server_lock:
        server, _server = _server, None
    if server is not None:
        server.shutdown()


def start_in_thread() -> None:
    """The embedded mode: the listener in threads of ``manage.py serve``, unless its port is 0."""
    port = settings.HEALTHSYNC_DICOM_PORT
    if not port or _server is not None:
        return
    if not settings.CELERY_BROKER_URL.startswith("memory://"):
        logger.info("Not the embedded mode: run the DICOM node as its own process (manage.py dicom_listener).")
        return
    try:
        serve(host=settings.HEALTHSYNC_DICOM_HOST, port=port, block=False)
    except OSError as error:  # the port is taken: the web server runs on, /healthz says the listener is down
        logger.error("DICOM node not started on %s:%s: %s", settings.HEALTHSYNC_DICOM_HOST, port, error)


def state() -> str:
    """``disabled`` (no port), ``up`` (it answers a C-ECHO, or runs in this process) or ``down``."""
    from . import scu

    port = settings.HEALTHSYNC_DICOM_PORT
    if not port:
        return "disabled"
    if _server is not None:
        return "up"
    host = settings.HEALTHSYNC_DICOM_HOST
    host = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host  # noqa: S104  (where a wildcard listener answers)
    return "up" if scu.echo(host=host, port=port) else "down"
