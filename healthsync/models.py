"""The shared core: users, hospitals and staff memberships."""

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from .fields import PersonalCharField


class Role(models.TextChoices):
    PLATFORM_ADMIN = "platform_admin", "Platform administrator"
    HOSPITAL_ADMIN = "hospital_admin", "Hospital administrator"
    MEDICAL_STAFF = "medical_staff", "Medical staff"
    DONOR = "donor", "Donor"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        """A superuser is a platform administrator."""
        extra_fields["is_staff"] = True
        extra_fields["is_superuser"] = True
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in: staff, donor or platform administrator.

    Platform administrators are superusers. Hospital roles come from
    ``Membership`` rows; ``is_donor`` is set when a donor profile is created.
    """

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    phone_number = PersonalCharField()
    is_staff = models.BooleanField(
        default=False, help_text="May log in to the operations console (set for hospital staff)."
    )
    is_active = models.BooleanField(default=True)
    is_donor = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.name or self.email

    def get_full_name(self):
        return self.name or self.email

    def get_short_name(self):
        return self.name.split(" ")[0] if self.name else self.email

    @property
    def is_platform_admin(self) -> bool:
        return self.is_active and self.is_superuser

    @property
    def roles(self) -> set[str]:
        roles = {membership.role for membership in self.memberships.all()}
        if self.is_platform_admin:
            roles.add(Role.PLATFORM_ADMIN)
        if self.is_donor:
            roles.add(Role.DONOR)
        return roles


fin_validator = RegexValidator(r"^[A-Z][0-9A-Z]{4}$", "A FIN is 5 characters: a letter, then 4 letters or digits.")
region_code_validator = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{0,19}$",
    "A region code is up to 20 capital letters, digits or hyphens, starting with a letter or digit.",
)


class Region(models.Model):
    """A region of the network, from one list that platform administrators manage. Hospitals and donors
    choose theirs from it, and urgent calls reach a hospital's region by its id: no spelling to match."""

    code = models.CharField(
        max_length=20, unique=True, validators=[region_code_validator], help_text="Short and stable, e.g. NORTH."
    )
    name = models.CharField(max_length=100, help_text="Unique, whatever the case and spacing.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="region_name_unique_ci",
                violation_error_message="A region with this name already exists.",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        self.name = " ".join((self.name or "").split())


class Hospital(models.Model):
    """A hospital or blood centre: the organisation that owns records."""

    name = models.CharField(
        max_length=200,
        help_text="Unique, whatever the case. Changing a verified hospital's name withdraws its verification.",
    )
    address = models.TextField(blank=True)
    contact_number = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    region = models.ForeignKey(
        Region,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hospitals",
        help_text="Urgent calls go to the donors of this region.",
    )
    fin = models.CharField(
        "ISBT 128 FIN",
        max_length=5,
        unique=True,
        validators=[fin_validator],
        help_text="ISBT 128 facility identification number, assigned at registration.",
    )
    is_verified = models.BooleanField(
        "verified", default=False, help_text="Verified hospitals join the network (public list, transfers, alerts)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        # One hospital per name, case aside: no hospital can pose as another under its name.
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="hospital_name_unique_ci",
                violation_error_message="A hospital with this name is already registered.",
            ),
        ]
        permissions = [
            ("act_for_hospital", "Work with the hospital's clinical and blood bank records"),
            ("manage_staff", "Grant and revoke the hospital's staff roles"),
        ]

    def __str__(self):
        return f"{self.name} ({self.fin})"


# The roles a hospital grants (platform administrators and donors are not hospital staff).
STAFF_ROLES = [
    (Role.HOSPITAL_ADMIN.value, Role.HOSPITAL_ADMIN.label),
    (Role.MEDICAL_STAFF.value, Role.MEDICAL_STAFF.label),
]


class Membership(models.Model):
    """A user's role at one hospital. A user may belong to several hospitals."""

    STAFF_ROLES = STAFF_ROLES

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=STAFF_ROLES)
    created_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="memberships_granted"
    )

    class Meta:
        ordering = ["hospital__name", "user__email"]
        constraints = [models.UniqueConstraint(fields=["user", "hospital"], name="one_membership_per_hospital")]

    def __str__(self):
        return f"{self.user} — {self.get_role_display()} at {self.hospital.name}"


class Invitation(models.Model):
    """An offer of a staff role at a hospital, sent to an email address. Nobody becomes a hospital's staff
    without accepting one: the link in the email (a token of which only a digest is stored) leads the
    person to accept, logged in as the invited address, or to set a password for a new account."""

    hospital = models.ForeignKey(Hospital, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Membership.STAFF_ROLES)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations_sent"
    )
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="invitations_accepted"
    )
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "hospital",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, withdrawn_at__isnull=True),
                name="one_open_invitation_per_address",
                violation_error_message="This address already has an open invitation to this hospital.",
            ),
        ]

    def __str__(self):
        return f"{self.email}: {self.get_role_display()} at {self.hospital.name}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.withdrawn_at:
            return "withdrawn"
        return "expired" if self.expires_at <= timezone.now() else "pending"
