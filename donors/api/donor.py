"""The donor's own endpoints: profile, eligibility, free slots, appointments."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from healthsync.api.pagination import paginated
from healthsync.api.seed_fields import seed_field_names
from healthsync.params import whole_number
from healthsync.regions import region_find

from .. import selectors, services
from ..models import Appointment, DonationSlot, DonationType
from .access import _paginated
from .serializers import (
    AppointmentSerializer,
    BookingSerializer,
    DonorProfileSerializer,
    EligibilityQuery,
    SlotSerializer,
)


@extend_schema(request=DonorProfileSerializer, responses=DonorProfileSerializer)
@api_view(["GET", "PATCH"])
@seed_field_names
def donor_profile(request):
    """The donor's profile; PATCH changes contact details, region, weight, availability, notifications, quiet hours
    (not the date of birth or sex given at registration, nor a blood group confirmed by typing)."""
    donor = selectors.donor_of(request.user)
    if request.method == "PATCH":
        serializer = DonorProfileSerializer(donor, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "user" in changes:
            changes.update(changes.pop("user"))
        donor = services.donor_profile_update(donor=donor, **changes)
    return Response(DonorProfileSerializer(donor).data)


@extend_schema(
    parameters=[
        OpenApiParameter("date", str, description="ISO date (default today)"),
        OpenApiParameter("donation_type", str, enum=DonationType.values),
    ],
    responses=inline_serializer(
        "Eligibility",
        {
            "eligible": serializers.BooleanField(),
            "reasons": serializers.ListField(),
            "next_eligible_date": serializers.DateField(allow_null=True),
        },
    ),
)
@api_view(["GET"])
def donor_eligibility(request):
    """Eligible now (everything but haemoglobin, which screening measures), with every reason and the
    next eligible date."""
    donor = selectors.donor_of(request.user)
    query = EligibilityQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    result = selectors.donor_eligibility(
        donor=donor, on_date=query.validated_data.get("date"), donation_type=query.validated_data["donation_type"]
    )
    return Response(
        {
            **selectors.eligibility_as_dict(result),
            "donation_type": query.validated_data["donation_type"],
            "available_for_emergencies": donor.available_for_emergencies,
        }
    )


@extend_schema(
    parameters=[
        OpenApiParameter("hospital", int),
        OpenApiParameter("donation_type", str),
        OpenApiParameter("region", str),
    ],
    responses=paginated(SlotSerializer),
)
@api_view(["GET"])
@permission_classes([AllowAny])
def slots_free(request):
    """Future slots with free places at network hospitals (public)."""
    slots = selectors.slots_free(
        hospital_id=whole_number(request.query_params, "hospital"),
        donation_type=request.query_params.get("donation_type") or None,
        region=region_find(request.query_params.get("region")),
    )
    return _paginated(request, slots, SlotSerializer)


@extend_schema(
    request=inline_serializer("Book", {"slot": serializers.IntegerField()}),
    responses={200: AppointmentSerializer(many=True), 201: AppointmentSerializer},
)
@api_view(["GET", "POST"])
def donor_appointments(request):
    """The donor's appointments; POST `{slot}` books a place (409: full, already booked, not eligible on that date)."""
    donor = selectors.donor_of(request.user)
    if request.method == "GET":
        return Response(AppointmentSerializer(selectors.donor_history(donor=donor)["appointments"], many=True).data)
    booking = BookingSerializer(data=request.data)
    booking.is_valid(raise_exception=True)
    slot = get_object_or_404(DonationSlot.objects.filter(hospital__is_verified=True), pk=booking.validated_data["slot"])
    appointment = services.appointment_book(donor=donor, slot=slot)
    return Response(AppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses={204: None})
@api_view(["DELETE"])
def donor_appointment_cancel(request, appointment_id):
    """Cancel the donor's own booked appointment."""
    donor = selectors.donor_of(request.user)
    appointment = get_object_or_404(Appointment.objects.filter(donor=donor), pk=appointment_id)
    services.appointment_cancel(appointment=appointment, by=request.user)
    return Response(status=status.HTTP_204_NO_CONTENT)
