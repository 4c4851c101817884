"""Reads of the blood bank: inventory, levels, expiring units, network stock."""

from datetime import timedelta
from typing import NamedTuple

from django.db.models import Count, Q, Sum
from django.utils import timezone

from healthsync.models import Hospital

from . import parameters, rules
from .models import BloodGroup, BloodRequest, BloodRequestStatus, BloodUnit, Component, ParLevel, Transfer, UnitStatus

# The seed's inventory counts red-cell-carrying units: red cells and whole blood.
SEED_COMPONENTS = (Component.RED_CELLS, Component.WHOLE_BLOOD)


class StockLevel(NamedTuple):
    level: str  # rules.LEVELS
    available_units: int


def stock_levels(*, hospital_ids, keys=None) -> dict[tuple[int, str, str], StockLevel]:
    """The stock of each hospital of ``hospital_ids`` in each (blood group, component) of ``keys`` (every
    one when None): its available units and their level against the hospital's par levels (the default
    par where staff have set none), by (hospital id, blood group, component). Two queries."""
    hospital_ids = list(hospital_ids)
    match = Q()
    if keys is None:
        keys = [(group, component) for component in Component.values for group in BloodGroup.values]
    else:
        keys = {(str(group), str(component)) for group, component in keys}
        for group, component in keys:
            match |= Q(blood_group=group, component=component)
    if not keys or not hospital_ids:
        return {}
    counts = {
        (row["hospital_id"], row["blood_group"], row["component"]): row["n"]
        for row in BloodUnit.objects.available()
        .filter(match, hospital_id__in=hospital_ids)
        .values("hospital_id", "blood_group", "component")
        .annotate(n=Count("id"))
    }
    pars = {
        (par.hospital_id, par.blood_group, par.component): (par.critical_units, par.low_units)
        for par in ParLevel.objects.filter(match, hospital_id__in=hospital_ids)
    }
    default = parameters.default_par()
    levels = {}
    for hospital_id in hospital_ids:
        for group, component in keys:
            key = (hospital_id, group, component)
            critical, low = pars.get(key, default)
            available = counts.get(key, 0)
            levels[key] = StockLevel(
                rules.stock_level(available_units=available, par_critical=critical, par_low=low), available
            )
    return levels


def inventory_summary(*, hospitals) -> dict:
    """Available stock of ``hospitals`` (a queryset): the seed rows per group and a breakdown per
    component with levels."""
    hospital_ids = list(hospitals.values_list("pk", flat=True))
    units = BloodUnit.objects.available().filter(hospital_id__in=hospital_ids)
    by_key = {
        (row["blood_group"], row["component"]): row
        for row in units.values("blood_group", "component").annotate(units=Count("id"), quantity_ml=Sum("volume_ml"))
    }
    seed_rows = []
    for group in BloodGroup.values:
        rows = [by_key.get((group, component)) for component in SEED_COMPONENTS]
        seed_rows.append(
            {
                "blood_type": group,
                "units": sum(row["units"] for row in rows if row),
                "quantity_ml": sum(row["quantity_ml"] or 0 for row in rows if row),
            }
        )
    levels = stock_levels(hospital_ids=hospital_ids) if len(hospital_ids) == 1 else {}
    components = []
    for component in Component.values:
        for group in BloodGroup.values:
            row = by_key.get((group, component))
            count = row["units"] if row else 0
            entry = {
                "component": component,
                "blood_type": group,
                "units": count,
                "quantity_ml": (row["quantity_ml"] or 0) if row else 0,
            }
            if levels:
                entry["level"] = levels[(hospital_ids[0], group, component)].level
            components.append(entry)
    return {"inventory": seed_rows, "components": components}


# The longest look-ahead for expiring units (longer than any component keeps: frozen plasma, 3 years).
EXPIRING_WITHIN_MAX_DAYS = 3660


def units_expiring(*, hospitals, days: int = 3):
    now = timezone.now()
    return (
        BloodUnit.objects.filter(
            hospital__in=hospitals, status__in=[UnitStatus.AVAILABLE, UnitStatus.RESERVED, UnitStatus.QUARANTINED]
        )
        .filter(expires_at__gt=now, expires_at__lte=now + timedelta(days=days))
        .select_related("hospital")
        .order_by("expires_at")
    )


def network_stock_for(*, request: BloodRequest) -> list[dict]:
    """Verified network hospitals (other than the requester) with compatible available units for ``request``.

    Only a verified hospital's request sees the network: for an unverified one (self-registered,
    not yet admitted by a platform administrator) there is none ([])."""
    if not request.hospital.is_verified:
        return []
    groups = [str(g) for g in rules.donor_preference(component=request.component, recipient_group=request.blood_group)]
    rows = (
        BloodUnit.objects.available()
        .filter(component=request.component, blood_group__in=groups, hospital__is_verified=True)
        .exclude(hospital_id=request.hospital_id)
        .values("hospital_id")
        .annotate(units=Count("id"))
        .order_by("-units")
    )
    hospitals = Hospital.objects.select_related("region").in_bulk([row["hospital_id"] for row in rows])
    return [
        {
            "hospital_id": row["hospital_id"],
            "hospital": hospitals[row["hospital_id"]].name,
            "fin": hospitals[row["hospital_id"]].fin,
            "region": str(hospitals[row["hospital_id"]].region or ""),
            "compatible_units": row["units"],
        }
        for row in rows
    ]


def network_levels(*, blood_group: str, component: str) -> dict[int, str]:
    """The stock level of one group and component at every verified hospital: {hospital_id: level}."""
    levels = stock_levels(
        hospital_ids=Hospital.objects.filter(is_verified=True).values_list("pk", flat=True),
        keys=[(blood_group, component)],
    )
    return {hospital_id: stock.level for (hospital_id, _, _), stock in levels.items()}


def network_holders(*, hospital: Hospital, component: str, blood_group: str) -> list[dict]:
    """``network_stock_for`` a need of ``hospital`` that is no request yet (a shortage of ``blood_group``
    ``component``): the verified hospitals holding compatible available units, most first."""
    return network_stock_for(request=BloodRequest(hospital=hospital, component=component, blood_group=blood_group))


OPEN_REQUEST_STATUSES = (BloodRequestStatus.PENDING, BloodRequestStatus.PARTIALLY_FULFILLED)


def open_requests(*, hospitals):
    """Requests of ``hospitals`` still short of units, most urgent first."""
    return (
        BloodRequest.objects.filter(hospital__in=hospitals, status__in=OPEN_REQUEST_STATUSES)
        .select_related("hospital")
        .order_by("-urgency", "needed_by", "pk")
    )


def network_requests(*, hospitals):
    """The requests staff of ``hospitals`` see in the network's view (hospital, group, component,
    units, urgency, when; never the patient): the urgent ones (urgency 4-5, those alerted across the
    network) of verified hospitals, once one of ``hospitals`` is verified itself; else none."""
    if not hospitals.filter(is_verified=True).exists():
        return BloodRequest.objects.none()
    return BloodRequest.objects.filter(hospital__is_verified=True, urgency__gte=rules.URGENT).select_related("hospital")


def transfers_of(*, hospitals):
    """Transfers into or out of ``hospitals``, newest first."""
    return (
        Transfer.objects.filter(Q(from_hospital__in=hospitals) | Q(to_hospital__in=hospitals))
        .select_related("from_hospital", "to_hospital", "request")
        .order_by("-requested_at", "-pk")
    )
