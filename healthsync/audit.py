"""The audit trail (django-auditlog): who changed what, when (HIPAA 45 CFR 164.312(b)).

Models are registered here and in each domain app's ``audit.py``. The request
middleware records the web user; ``attribute_to`` records the API user once
DRF has authenticated the bearer token; tasks wrap their work in
``acting_as`` so their changes carry the user they act for.
"""

from auditlog.context import auditlog_value, set_actor
from auditlog.registry import auditlog

from .models import Hospital, Membership, User

auditlog.register(User, exclude_fields=["password", "last_login"], mask_fields=["phone_number"])
auditlog.register(Hospital)
auditlog.register(Membership)


def attribute_to(user) -> None:
    """Attribute the changes of the current request to ``user``.

    The audit middleware reads the user before DRF authenticates a bearer
    token, so API requests set their actor here, in the same context.
    """
    try:
        context = auditlog_value.get()
    except LookupError:
        return
    context["actor"] = user


def acting_as(user):
    """Context manager for background work done on behalf of ``user``."""
    return set_actor(user)


def record(objects, *, action: int, actor=None, changes=None, remote_addr: str | None = None) -> None:
    """One audit entry per object, in one statement: for rows written in bulk or with ``update()``, which
    send no signal for django-auditlog to record. ``changes(obj)`` gives each entry's ``{field: [old, new]}``."""
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    objects = list(objects)
    if not objects:
        return
    actor = actor if getattr(actor, "is_authenticated", False) else None
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                content_type=ContentType.objects.get_for_model(obj),
                object_pk=str(obj.pk),
                object_id=obj.pk,
                object_repr=str(obj)[:200],
                action=action,
                actor=actor,
                actor_email=getattr(actor, "email", None),
                remote_addr=remote_addr,
                changes=changes(obj) if changes else {},
            )
            for obj in objects
        ]
    )


def note_patient_read(request, obj, fields) -> None:
    """``request`` shows ``obj``'s patient-identifying ``fields`` to its user: recorded once the response is
    on its way (``PatientReadAuditMiddleware``), one entry per record per request."""
    if not fields:
        return
    request = getattr(request, "_request", request)  # DRF's Request wraps Django's
    reads = request.__dict__.setdefault("_healthsync_patient_reads", {})
    reads.setdefault((type(obj), obj.pk), [obj, set()])[1].update(fields)


class PatientReadAuditMiddleware:
    """Writes the reads of patient-identifying fields that a successful response showed (45 CFR 164.312(b)):
    an ``access`` entry per record with who, from where and which fields."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        reads = request.__dict__.pop("_healthsync_patient_reads", None)
        if reads and response.status_code < 400:
            from auditlog.models import LogEntry

            from .security import client_address

            fields = {id(obj): sorted(names) for obj, names in reads.values()}
            record(
                [obj for obj, _ in reads.values()],
                action=LogEntry.Action.ACCESS,
                actor=request.user,
                remote_addr=client_address(request) or None,
                changes=lambda obj: {"fields read": [None, fields[id(obj)]]},
            )
        return response
