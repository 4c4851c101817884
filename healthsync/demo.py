"""Demo data for the core: hospitals, staff of each role and a platform administrator.

Idempotent: running it again changes nothing. Later issues add their own
``seed_*`` functions and call them from the ``seed_demo`` command.
"""

from django.db import transaction

from . import services
from .models import Hospital, Region, Role, User

DEMO_PASSWORD = "healthsync-demo"

REGIONS = [("NORTH", "North"), ("SOUTH", "South")]

HOSPITALS = [
    {
        "name": "St Mary's General Hospital",
        "fin": "H0001",
        "region": "North",
        "address": "1 Station Road, Northtown",
        "contact_number": "+44 20 7946 0001",
        "email": "bloodbank@stmarys.example",
    },
    {
        "name": "Riverside Medical Centre",
        "fin": "H0002",
        "region": "North",
        "address": "22 River Lane, Northtown",
        "contact_number": "+44 20 7946 0002",
        "email": "lab@riverside.example",
    },
    {
        "name": "Southfield University Hospital",
        "fin": "H0003",
        "region": "South",
        "address": "5 College Green, Southfield",
        "contact_number": "+44 20 7946 0003",
        "email": "transfusion@southfield.example",
    },
]

STAFF = [
    ("admin@stmarys.example", "Grace Okafor", "H0001", Role.HOSPITAL_ADMIN),
    ("doctor@stmarys.example", "Dr Amir Haddad", "H0001", Role.MEDICAL_STAFF),
    ("admin@riverside.example", "Lena Fischer", "H0002", Role.HOSPITAL_ADMIN),
    ("doctor@riverside.example", "Dr Priya Nair", "H0002", Role.MEDICAL_STAFF),
    ("admin@southfield.example", "Tomás Rivera", "H0003", Role.HOSPITAL_ADMIN),
    ("doctor@southfield.example", "Dr Mei Chen", "H0003", Role.MEDICAL_STAFF),
]

PLATFORM_ADMIN = ("platform@healthsync.example", "Platform Administrator")


def _account(email: str, name: str, *, superuser: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        create = User.objects.create_superuser if superuser else User.objects.create_user
        user = create(email=email, password=DEMO_PASSWORD, name=name)
    return user


def seed_regions() -> None:
    for code, name in REGIONS:
        Region.objects.get_or_create(code=code, defaults={"name": name})


@transaction.atomic
def seed() -> list[tuple[str, str]]:
    """Create the demo hospitals and accounts; return the demo logins as (email, role)."""
    logins = []
    seed_regions()
    for spec in HOSPITALS:
        if not Hospital.objects.filter(fin=spec["fin"]).exists():
            services.hospital_create(**spec, is_verified=True)
    admin_email, admin_name = PLATFORM_ADMIN
    _account(admin_email, admin_name, superuser=True)
    logins.append((admin_email, Role.PLATFORM_ADMIN.label))
    for email, name, fin, role in STAFF:
        user = _account(email, name)
        services.membership_grant(hospital=Hospital.objects.get(fin=fin), user=user, role=role, by=None)
        logins.append((email, f"{Role(role).label}, {fin}"))
    return logins
