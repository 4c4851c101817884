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
