"""The seed's donor endpoints, kept for compatibility: registration, login, donate, history."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.response import Response

from healthsync.api.seed_fields import seed_field_names
from healthsync.api.views import RegistrationView, role_login_view
from healthsync.models import Hospital

from .. import selectors, services
from .serializers import (
    AppointmentSerializer,
    DonateSerializer,
    DonationSerializer,
    DonorProfileSerializer,
    DonorRegisterSerializer,
)


class DonorRegisterView(RegistrationView):
    """Register a donor: an account (donor role) and a profile. Under 17: 400 naming `date_of_birth`."""

    @extend_schema(request=DonorRegisterSerializer, responses={201: DonorProfileSerializer})
    @seed_field_names
    def post(self, request):
        serializer = DonorRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return self.registered(
            request,
            email=data["email"],
            create=lambda: services.donor_register(
                name=data["name"],
                email=data["email"],
                password=data["password"],
                blood_group=data["blood_type"],
                date_of_birth=data["date_of_birth"],
                address=data["address"],
                contact_number=data["contact_number"],
                sex=data["sex"],
                weight_kg=data.get("weight_kg"),
                region=data["region"],
            ),
            respond=lambda donor: Response(DonorProfileSerializer(donor).data, status=status.HTTP_201_CREATED),
        )


DonorLoginView = role_login_view(
    name="Donor",
    allowed=lambda user: user.is_donor,
    refusal="This login is for donors; hospital staff log in at /api/blood-bank/hospital/login.",
    doc="Donor login: `{email, password}` gives `{access, refresh}`.",
)


@extend_schema(
    request=inline_serializer(
        "Donate", {"hospital_id": serializers.IntegerField(), "quantity_ml": serializers.IntegerField(required=False)}
    ),
    responses={201: DonationSerializer},
)
@api_view(["POST"])
def donor_donate(request):
    """Register for a whole-blood donation at the hospital today; 409 with every reason and the next eligible date."""
    donor = selectors.donor_of(request.user)
    payload = DonateSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    hospital = Hospital.objects.filter(pk=payload.validated_data["hospital_id"]).first()
    if hospital is None:
        raise serializers.ValidationError({"hospital_id": ["No such hospital."]})
    donation = services.donation_register_walk_in(
        donor=donor, hospital=hospital, quantity_ml=payload.validated_data.get("quantity_ml")
    )
    return Response(DonationSerializer(donation).data, status=status.HTTP_201_CREATED)


@extend_schema(
    responses=inline_serializer(
        "DonorHistory", {"donations": DonationSerializer(many=True), "appointments": AppointmentSerializer(many=True)}
    )
)
@api_view(["GET"])
def donor_history(request):
    """The donor's own visits (with their state) and appointments, newest first."""
    history = selectors.donor_history(donor=selectors.donor_of(request.user))
    return Response(
        {
            "donations": DonationSerializer(history["donations"], many=True).data,
            "appointments": AppointmentSerializer(history["appointments"], many=True).data,
        }
    )
