"""Writes of the shared core: accounts, hospitals, staff memberships."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from lib.realtime import rights_changed

from .errors import Conflict, Forbidden
from .models import Hospital, Membership, Region, Role, User
from .permissions import CHANGE, MANAGE_STAFF, can, forget
from .regions import region_find


def user_register(*, email: str, password: str, name: str = "", phone_number: str = "") -> User:
    """Create an account with no staff rights; roles are granted by an administrator."""
    email = User.objects.normalize_email(email or "").strip().lower()
    if not email:
        raise ValidationError({"email": ["An email address is required."]})
    candidate = User(email=email, name=name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise Conflict(
                "An account with this email already exists.",
                code="email_taken",
                fields={"email": ["An account with this email already exists."]},
            )
        try:
            return User.objects.create_user(email=email, password=password, name=name, phone_number=phone_number)
        except IntegrityError as exc:
            if User.objects.filter(email__iexact=email).exists():  # a parallel registration won the race
                raise Conflict("An account with this email already exists.", code="email_taken") from exc
            raise


def _next_fin() -> str:
    """The next free ISBT 128 facility identification number: the configured letter and a 4-digit sequence."""
    prefix = settings.HEALTHSYNC_FIN_PREFIX.upper()[:1] or "H"
    taken = Hospital.objects.select_for_update().filter(fin__startswith=prefix).values_list("fin", flat=True)
    numbers = [int(fin[1:]) for fin in taken if fin[1:].isdigit()]
    following = max(numbers, default=0) + 1
    if following > 9999:
        raise Conflict("No facility identification numbers are left under this prefix.", code="fin_exhausted")
    return f"{prefix}{following:04d}"


def _hospital_name(name: str) -> str:
    """A hospital's name as stored: spaces trimmed and runs of whitespace made one space."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": ["A hospital name is required."]})
    return name


_NAME_TAKEN = "A hospital with this name is already registered."


def _check_name_free(name: str, *, hospital: Hospital | None = None) -> None:
    """Hospital names are unique whatever the case, so no hospital can pose as another under its name."""
    others = Hospital.objects.filter(name__iexact=name)
    if hospital is not None:
        others = others.exclude(pk=hospital.pk)
    if others.exists():
        raise Conflict(_NAME_TAKEN, code="hospital_name_taken", fields={"name": [_NAME_TAKEN]})


def _saved_hospital(hospital: Hospital, **save_kwargs) -> Hospital:
    """Save, answering a name taken by a parallel registration (the database's unique index) with 409."""
    try:
        with transaction.atomic():
            hospital.save(**save_kwargs)
    except IntegrityError as exc:
        if Hospital.objects.filter(name__iexact=hospital.name).exclude(pk=hospital.pk).exists():
            raise Conflict(_NAME_TAKEN, code="hospital_name_taken", fields={"name": [_NAME_TAKEN]}) from exc
        raise
    return hospital


def hospital_create(
    *,
    name: str,
    address: str = "",
    contact_number: str = "",
    email: str = "",
    region: Region | str | None = None,
    fin: str | None = None,
    is_verified: bool = False,
) -> Hospital:
    """Register a hospital and assign its ISBT 128 FIN (unless one is given). Its name must be free
    (case aside): 409 ``hospital_name_taken`` otherwise. ``region``: a managed region, or its code or
    name (400 ``unknown_region`` for any other)."""
    name = _hospital_name(name)
    region = region_find(region)
    with transaction.atomic():
        _check_name_free(name)
        hospital = Hospital(
            name=name,
            address=address,
            contact_number=contact_number,
            email=email,
            region=region,
            fin=(fin or _next_fin()).upper(),
            is_verified=is_verified,
        )
        hospital.full_clean(validate_constraints=False)  # the name was checked above, with its own answer
        _saved_hospital(hospital)
    return hospital


HOSPITAL_DETAILS = ("name", "address", "contact_number", "email", "region")


def hospital_update(*, hospital: Hospital, by: User, **changes) -> Hospital:
    """Change a hospital's details (``HOSPITAL_DETAILS``): its administrators, or a platform administrator.

    The name stays unique (case aside). A verified hospital whose administrators change its name
    leaves the network until a platform administrator verifies it again (``hospital_verify``): the
    name is what the network and donors know it by. A platform administrator's renaming keeps it.
    """
    unknown = set(changes) - set(HOSPITAL_DETAILS)
    if unknown:
        raise ValidationError({name: ["This cannot be changed here."] for name in sorted(unknown)})
    if not can(by, CHANGE, hospital):
        raise Forbidden("You cannot change this hospital's details.")
    if "name" in changes:
        changes["name"] = _hospital_name(changes["name"])
    if "region" in changes:
        changes["region"] = region_find(changes["region"])
    with transaction.atomic():
        hospital = Hospital.objects.select_for_update().get(pk=hospital.pk)
        renamed = "name" in changes and changes["name"] != hospital.name
        if renamed:
            _check_name_free(changes["name"], hospital=hospital)
        for field, value in changes.items():
            setattr(hospital, field, value)
        fields = list(changes)
        if renamed and hospital.is_verified and not by.is_platform_admin:
            hospital.is_verified = False
            fields.append("is_verified")
        hospital.full_clean(validate_constraints=False)
        _saved_hospital(hospital, update_fields=fields)
    return hospital


def hospital_register(
    *,
    name: str,
    email: str,
    password: str,
    address: str = "",
    contact_number: str = "",
    region: Region | str | None = None,
) -> Hospital:
    """A hospital registers itself: the hospital (with its FIN) and its first administrator's account.

    It manages its own stock at once and joins the network when verified
    (at once where ``HEALTHSYNC_AUTO_VERIFY_HOSPITALS`` is on).
    """
    with (
        transaction.atomic()
    ):  # the hospital's own checks first: they answer alike whether or not the email has an account
        hospital = hospital_create(
            name=name,
            address=address,
            contact_number=contact_number,
            email=email,
            region=region,
            is_verified=settings.HEALTHSYNC_AUTO_VERIFY_HOSPITALS,
        )
        administrator = user_register(email=email, password=password, name=f"{name} administrator")
        membership_grant(hospital=hospital, user=administrator, role=Role.HOSPITAL_ADMIN, by=None)
    return hospital


def hospital_verify(*, hospital: Hospital, by: User) -> Hospital:
    """Admit a hospital to the network. Platform administrators only."""
    if not by.is_platform_admin:
        raise Forbidden("Only a platform administrator can verify a hospital.")
    with transaction.atomic():
        hospital.is_verified = True
        hospital.save(update_fields=["is_verified"])
    return hospital


def membership_grant(*, hospital: Hospital, user: User, role: str, by: User | None) -> Membership:
    """Give ``user`` a staff role at ``hospital``, or change it.

    ``by`` (who must manage the hospital's staff) only changes the role of someone already on its
    staff: a person joins a hospital by accepting an invitation (``healthsync.invitations``), never
    silently. ``None`` is the system itself (registration, an accepted invitation, demo data).
    """
    if role not in ROLE_VALUES:
        raise ValidationError({"role": [f"Unknown staff role {role!r}."]})
    if by is not None and not can(by, MANAGE_STAFF, hospital):
        raise Forbidden("You cannot manage this hospital's staff.")
    if by is not None and not Membership.objects.filter(user=user, hospital=hospital).exists():
        raise Conflict(
            "A person joins a hospital's staff by accepting an invitation: invite them by email.",
            code="invitation_required",
        )
    with transaction.atomic():
        membership, _ = Membership.objects.update_or_create(
            user=user, hospital=hospital, defaults={"role": role, "granted_by": by}
        )
        if not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        forget(user.pk)  # rights are read from the memberships: this request's answers no longer hold
        rights_changed(user.pk)  # open sockets join the hospital's groups
    return membership


def membership_revoke(*, membership: Membership, by: User | None) -> None:
    """Remove a staff role; the user keeps their account. Their sockets open now stop hearing the
    hospital's alerts as soon as the removal commits (``realtime.rights_changed``)."""
    if by is not None and not can(by, MANAGE_STAFF, membership.hospital):
        raise Forbidden("You cannot manage this hospital's staff.")
    if (
        by is not None
        and membership.user_id == by.pk
        and membership.role == Role.HOSPITAL_ADMIN
        and not by.is_superuser
    ):
        raise Conflict("You cannot remove your own administrator role.", code="self_revoke")
    with transaction.atomic():
        user = membership.user
        membership.delete()
        forget(user.pk)
        if not user.is_superuser and not user.memberships.exists():
            user.is_staff = False
            user.save(update_fields=["is_staff"])
        rights_changed(user.pk)


ROLE_VALUES = {Role.HOSPITAL_ADMIN.value, Role.MEDICAL_STAFF.value}
