"""Reads of the blood bank: inventory, levels, expiring units, network stock."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from healthsync.models import Hospital

from . import rules
from .models import BloodGroup, BloodRequest, BloodRequestStatus, BloodUnit, Component, ParLevel, Transfer, UnitStatus

# The seed's inventory counts red-cell-carrying units: red cells and whole blood.
SEED_COMPONENTS = (Component.RED_CELLS, Component.WHOLE_BLOOD)


def _available(now=None):
    return Q(status=UnitStatus.AVAILABLE, expires_at__gt=now or timezone.now())


def inventory_summary(*, hospitals) -> dict:
    """Available stock of ``hospitals`` (a queryset): the seed rows per group and a breakdown per component with levels."""
    hospital_ids = list(hospitals.values_list("pk", flat=True))
    units = BloodUnit.objects.filter(_available(), hospital_id__in=hospital_ids)
    by_key = {
        (row["blood_group"], row["component"]): row
        for row in units.values("blood_group", "component").annotate(units=Count("id"), quantity_ml=Sum("volume_ml"))
    }
    seed_rows = []
    for group in BloodGroup.values:
        rows = [by_key.get((group, component)) for component in SEED_COMPONENTS]
        seed_rows.append({
            "blood_type": group,
            "units": sum(row["units"] for row in rows if row),
            "quantity_ml": sum(row["quantity_ml"] or 0 for row in rows if row),
        })
    single = len(hospital_ids) == 1
    pars = {(p.blood_group, p.component): p for p in ParLevel.objects.filter(hospital_id=hospital_ids[0])} if single else {}
    components = []
    for component in Component.values:
        for group in BloodGroup.values:
            row = by_key.get((group, component))
            count = row["units"] if row else 0
            entry = {"component": component, "blood_type": group, "units": count, "quantity_ml": (row["quantity_ml"] or 0) if row else 0}
            if single:
                par = pars.get((group, component))
                critical, low = (par.critical_units, par.low_units) if par else (settings.HEALTHSYNC_DEFAULT_PAR_CRITICAL, settings.HEALTHSYNC_DEFAULT_PAR_LOW)
                entry["level"] = rules.stock_level(available_units=count, par_critical=critical, par_low=low)
            components.append(entry)
    return {"inventory": seed_rows, "components": components}


# The longest look-ahead for expiring units (longer than any component keeps: frozen plasma, 3 years).
EXPIRING_WITHIN_MAX_DAYS = 3660


def units_expiring(*, hospitals, days: int = 3):
    now = timezone.now()
    return (
        BloodUnit.objects.filter(hospital__in=hospitals, status__in=[UnitStatus.AVAILABLE, UnitStatus.RESERVED, UnitStatus.QUARANTINED])
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
        BloodUnit.objects.filter(_available(), component=request.component, blood_group__in=groups, hospital__is_verified=True)
        .exclude(hospital_id=request.hospital_id)
        .values("hospital_id")
        .annotate(units=Count("id"))
        .order_by("-units")
    )
    hospitals = Hospital.objects.select_related("region").in_bulk([row["hospital_id"] for row in rows])
    return [
        {"hospital_id": row["hospital_id"], "hospital": hospitals[row["hospital_id"]].name, "fin": hospitals[row["hospital_id"]].fin,
         "region": str(hospitals[row["hospital_id"]].region or ""), "compatible_units": row["units"]}
        for row in rows
    ]


def network_levels(*, blood_group: str, component: str) -> dict[int, str]:
    """The stock level of one group and component at every verified hospital: {hospital_id: level}."""
    counts = dict(
        BloodUnit.objects.filter(_available(), blood_group=blood_group, component=component, hospital__is_verified=True)
        .values_list("hospital_id").annotate(n=Count("id"))
    )
    pars = {
        p.hospital_id: (p.critical_units, p.low_units)
        for p in ParLevel.objects.filter(blood_group=blood_group, component=component)
    }
    default = (settings.HEALTHSYNC_DEFAULT_PAR_CRITICAL, settings.HEALTHSYNC_DEFAULT_PAR_LOW)
    return {
        hospital_id: rules.stock_level(available_units=counts.get(hospital_id, 0), par_critical=pars.get(hospital_id, default)[0], par_low=pars.get(hospital_id, default)[1])
        for hospital_id in Hospital.objects.filter(is_verified=True).values_list("pk", flat=True)
    }

def network_holders(*, hospital: Hospital, component: str, blood_group: str) -> list[dict]:
    """``network_stock_for`` a need of ``hospital`` that is no request yet (a shortage of ``blood_group``
    ``component``): the verified hospitals holding compatible available units, most first."""
    return network_stock_for(request=BloodRequest(hospital=hospital, component=component, blood_group=blood_group))


OPEN_REQUEST_STATUSES = (BloodRequestStatus.PENDING, BloodRequestStatus.PARTIALLY_FULFILLED)


def open_requests(*, hospitals):
    """Requests of ``hospitals`` still short of units, most urgent first."""
    return (BloodRequest.objects.filter(hospital__in=hospitals, status__in=OPEN_REQUEST_STATUSES)
            .select_related("hospital").order_by("-urgency", "needed_by", "pk"))


def network_requests(*, hospitals):
    """The requests staff of ``hospitals`` see in the network's view (hospital, group, component,
    units, urgency, when; never the patient): the urgent ones (urgency 4-5, those alerted across the
    network) of verified hospitals, once one of ``hospitals`` is verified itself; else none."""
    if not hospitals.filter(is_verified=True).exists():
        return BloodRequest.objects.none()
    return BloodRequest.objects.filter(hospital__is_verified=True, urgency__gte=rules.URGENT).select_related("hospital")


def transfers_of(*, hospitals):
    """Transfers into or out of ``hospitals``, newest first."""
    return (Transfer.objects.filter(Q(from_hospital__in=hospitals) | Q(to_hospital__in=hospitals))
            .select_related("from_hospital", "to_hospital", "request").order_by("-requested_at", "-pk"))
