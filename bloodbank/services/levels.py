"""Stock levels: the level events after each change of stock, and par levels."""

from collections.abc import Iterable

from django.db import transaction

from healthsync.errors import DomainError
from healthsync.models import Hospital

from .. import events, selectors
from ..models import (
    ParLevel,
)


def _publish_levels(hospital_id: int, keys: Iterable[tuple[str, str]]) -> None:
    """Publish the current level of each (group, component) touched: two queries, however many keys."""
    for (_, group, component), stock in selectors.stock_levels(hospital_ids=[hospital_id], keys=keys).items():
        events.publish(
            events.inventory_level_changed,
            hospital_id=hospital_id,
            blood_group=group,
            component=component,
            level=stock.level,
            available_units=stock.available_units,
        )


def par_level_set(
    *, hospital: Hospital, blood_group: str, component: str, critical_units: int, low_units: int
) -> ParLevel:
    if low_units < critical_units:
        raise DomainError(
            "The low level must be at least the critical level.", fields={"low_units": ["Must be ≥ critical_units."]}
        )
    with transaction.atomic():
        par, _ = ParLevel.objects.update_or_create(
            hospital=hospital,
            blood_group=blood_group,
            component=component,
            defaults={"critical_units": critical_units, "low_units": low_units},
        )
        _publish_levels(hospital.pk, [(blood_group, component)])
    return par
