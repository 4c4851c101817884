from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..errors import DomainError
from ..models import STAFF_ROLES, Hospital, Invitation, Membership, User
from ..regions import region_find


@extend_schema_field(OpenApiTypes.STR)
class RegionField(serializers.Field):
    """A managed region: written as its code or name (any case; "" or null for none, unknown: 400 naming
    the field), read as its name ("" for none), the string the free-text field used to hold."""

    default_error_messages = {"invalid": "Give the region's code or name."}

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return super().get_attribute(instance) or ""

    def to_representation(self, value):
        return value.name if value else ""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return region_find(data)
        except DomainError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from exc


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)  # the column's length (RFC 5321 limits an address to 254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class MembershipBriefSerializer(serializers.ModelSerializer):
    hospital_name = serializers.CharField(source="hospital.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "hospital", "hospital_name", "role"]


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    memberships = MembershipBriefSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "name", "roles", "memberships", "date_joined"]
        read_only_fields = fields

    def get_roles(self, user) -> list[str]:
        return sorted(user.roles)


class HospitalSerializer(serializers.ModelSerializer):
    region = RegionField(required=False)

    class Meta:
        model = Hospital
        fields = ["id", "name", "address", "contact_number", "email", "region", "fin", "is_verified", "created_at"]
        read_only_fields = ["id", "fin", "is_verified", "created_at"]


class MembershipSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(write_only=True, help_text="The account to grant the role to.")
    user = serializers.PrimaryKeyRelatedField(read_only=True)
    user_email = serializers.EmailField(source="user.email", read_only=True)
    role = serializers.ChoiceField(choices=STAFF_ROLES)

    class Meta:
        model = Membership
        fields = ["id", "hospital", "user", "user_email", "email", "role", "created_at"]
        read_only_fields = ["id", "user", "user_email", "created_at"]


class InvitationSerializer(serializers.ModelSerializer):
    role = serializers.ChoiceField(choices=STAFF_ROLES)
    status = serializers.CharField(read_only=True, help_text="pending, accepted, withdrawn or expired")
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "hospital",
            "email",
            "role",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "withdrawn_at",
        ]
        read_only_fields = ["id", "status", "invited_by", "created_at", "expires_at", "accepted_at", "withdrawn_at"]
