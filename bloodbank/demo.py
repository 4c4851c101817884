"""Demo stock for the blood bank: par levels, units of every group and component, open and fulfilled requests.

Idempotent: a hospital that already holds units is left alone.
"""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from healthsync.models import Hospital, User

from . import services
from .models import BloodUnit, Component, UnitStatus

# Units per group at each demo hospital, roughly by population frequency;
# St Mary's runs short of O-negative so the dashboard shows a critical level.
RED_CELL_STOCK = {"A+": 12, "A-": 4, "B+": 6, "B-": 2, "AB+": 3, "AB-": 1, "O+": 14, "O-": 5}
OTHER_COMPONENTS = {Component.PLATELETS: 2, Component.PLASMA: 3, Component.CRYOPRECIPITATE: 1}


def _staff(hospital):
    return User.objects.filter(memberships__hospital=hospital).order_by("email").first()


@transaction.atomic
def seed() -> list[tuple[str, str]]:
    rng = random.Random(2026)
    now = timezone.now()
    for hospital in Hospital.objects.filter(fin__in=["H0001", "H0002", "H0003"]):
        if BloodUnit.objects.filter(hospital=hospital).exists():
            continue
        staff = _staff(hospital)
        for group, count in RED_CELL_STOCK.items():
            if hospital.fin == "H0001" and group == "O-":
                count = 1
            for _ in range(count):
                collected = now - timedelta(days=rng.randint(0, 38), hours=rng.randint(0, 23))
                services.unit_create(
                    hospital=hospital,
                    component=Component.RED_CELLS,
                    blood_group=group,
                    by=staff,
                    status=UnitStatus.AVAILABLE,
                    collected_at=collected,
                )
            for component, per_group in OTHER_COMPONENTS.items():
                for _ in range(per_group):
                    age = rng.randint(0, 4) if component == Component.PLATELETS else rng.randint(0, 200)
                    services.unit_create(
                        hospital=hospital,
                        component=component,
                        blood_group=group,
                        by=staff,
                        status=UnitStatus.AVAILABLE,
                        collected_at=now - timedelta(days=age),
                    )
        for group in ("A+", "O+"):
            services.unit_create(
                hospital=hospital,
                component=Component.RED_CELLS,
                blood_group=group,
                by=staff,
                status=UnitStatus.QUARANTINED,
            )
        services.par_level_set(
            hospital=hospital, blood_group="O-", component=Component.RED_CELLS, critical_units=2, low_units=6
        )
        fulfilled = services.request_create(
            hospital=hospital,
            blood_group="A+",
            units=2,
            urgency=3,
            by=staff,
            patient_reference="MRN-1001",
            needed_by=now + timedelta(hours=4),
        )
        services.request_fulfil(request=fulfilled, by=staff)
        services.request_create(
            hospital=hospital,
            blood_group="B-",
            units=2,
            urgency=4,
            by=staff,
            patient_reference="MRN-1002",
            needed_by=now + timedelta(hours=2),
        )
    return []
