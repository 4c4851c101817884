"""The seed API's names for the domain's fields, in one place.

The seed endpoints under ``/api/blood-bank/`` (hospital inventory and requests, donor registration and
profile) keep the field names the seed gave them: a blood group is ``blood_type``, a volume
``quantity_ml``, an urgency ``urgency_level``, an expiry ``expiry_date``. Services speak the domain's
names (``blood_group``, ``volume_ml``, ``urgency``, ``expires_at``); a seed endpoint decorated with
``seed_field_names`` answers a service's refusal under the seed's names.
"""

from functools import wraps

from healthsync.errors import DomainError

# The domain's name of a field: the seed's.
SEED_FIELD_NAMES = {
    "blood_group": "blood_type",
    "volume_ml": "quantity_ml",
    "urgency": "urgency_level",
    "expires_at": "expiry_date",
}


def seed_field_names(view):
    """``view`` (a seed endpoint's function or method), whose refusals name their fields as the seed does."""

    @wraps(view)
    def answer(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except DomainError as exc:
            exc.fields = {SEED_FIELD_NAMES.get(name, name): problems for name, problems in exc.fields.items()}
            raise

    return answer
