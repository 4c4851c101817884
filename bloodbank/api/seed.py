"""The seed's endpoints, kept for compatibility: hospital registration and login, inventory, requests,
the public lists."""

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from healthsync import services as core_services
from healthsync.api.seed_fields import seed_field_names
from healthsync.api.throttling import rate_limited
from healthsync.api.views import RegistrationView, role_login_view
from healthsync.models import Hospital
from healthsync.permissions import IsHospitalStaff, acting_hospital, scope_to_hospitals

from .. import selectors, services
from ..models import BloodGroup, BloodRequest
from .common import _input, _own_request
from .serializers import (
    HospitalRegisterSerializer,
    InventoryAddSerializer,
    InventorySerializer,
    PublicHospitalSerializer,
    RequestCreateSerializer,
    RequestSerializer,
    UnitSerializer,
)


class HospitalRegisterView(RegistrationView):
    """Register a hospital and its administrator: 201 with the hospital `id` (and its FIN)."""

    @extend_schema(request=HospitalRegisterSerializer, responses={201: PublicHospitalSerializer})
    def post(self, request):
        serializer = HospitalRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.registered(
            request,
            email=serializer.validated_data["email"],
            create=lambda: core_services.hospital_register(**serializer.validated_data),
            respond=lambda hospital: Response(
                {**PublicHospitalSerializer(hospital).data, "is_verified": hospital.is_verified},
                status=status.HTTP_201_CREATED,
            ),
        )


HospitalLoginView = role_login_view(
    name="Staff",
    allowed=lambda user: user.is_superuser or user.memberships.exists(),
    refusal="This login is for hospital staff; donors log in at /api/blood-bank/donor/login.",
    doc="Hospital staff login: `{email, password}` gives `{access, refresh}`.",
)


@extend_schema(
    parameters=[OpenApiParameter("hospital", int, description="Your hospital's id, if you work for several.")],
    responses=InventorySerializer,
)
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def inventory(request):
    """Available stock by group (red cells and whole blood, the seed's rows) and by component with levels."""
    hospital = acting_hospital(request.user, request.query_params.get("hospital"))
    summary = selectors.inventory_summary(hospitals=Hospital.objects.filter(pk=hospital.pk))
    return Response({"hospital": hospital.pk, **summary})


@extend_schema(
    request=InventoryAddSerializer,
    responses={201: inline_serializer("UnitsReceived", {"units": UnitSerializer(many=True)})},
)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
@seed_field_names
def inventory_add(request):
    """Receive one bag of `quantity_ml` (or `units` such bags) into available stock; give
    `expiry_date` or `collected_at`."""
    data = _input(InventoryAddSerializer, request)
    hospital = acting_hospital(request.user, data.get("hospital"))
    units = services.units_receive(
        hospital=hospital,
        blood_group=data["blood_type"],
        component=data["component"],
        volume_ml=data.get("quantity_ml"),
        count=data["units"],
        expiry_date=data.get("expiry_date"),
        collected_at=data.get("collected_at"),
        anticoagulant=data["anticoagulant"],
        din=data.get("din"),
        by=request.user,
    )
    return Response({"units": UnitSerializer(units, many=True).data}, status=status.HTTP_201_CREATED)


@extend_schema(
    request=RequestCreateSerializer,
    responses={
        201: inline_serializer(
            "RequestCreated", {"request_id": serializers.IntegerField(), "status": serializers.CharField()}
        )
    },
)
@rate_limited("blood_request")
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
@seed_field_names
def request_create(request):
    """Create a request; urgency 4-5 alerts the network and eligible donors (rate limited per user)."""
    data = _input(RequestCreateSerializer, request)
    hospital = acting_hospital(request.user, data.get("hospital"))
    blood_request = services.request_create(
        hospital=hospital,
        blood_group=data["blood_type"],
        component=data["component"],
        units=data.get("units"),
        volume_ml=data.get("quantity_ml"),
        urgency=data["urgency_level"],
        needed_by=data.get("needed_by"),
        patient_reference=data["patient_reference"],
        by=request.user,
    )
    return Response(
        {
            "request_id": blood_request.pk,
            "status": blood_request.get_status_display(),
            "units": blood_request.units_requested,
        },
        status=status.HTTP_201_CREATED,
    )


@extend_schema(
    request=None,
    responses=inline_serializer(
        "Fulfilment", {"status": serializers.CharField(), "allocated": UnitSerializer(many=True)}
    ),
)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def request_fulfil(request, request_id):
    """Allocate compatible units from the hospital's own stock; 409 when nothing compatible is available."""
    blood_request = _own_request(request, request_id)
    allocations = services.request_fulfil(request=blood_request, by=request.user)
    blood_request.refresh_from_db()
    units = [allocation.unit for allocation in allocations]
    prefetch_related_objects(units, "hospital")  # one query for the units' FIN, not one per unit
    return Response(
        {
            "request_id": blood_request.pk,
            "status": blood_request.get_status_display(),
            "allocated": UnitSerializer(units, many=True).data,
        }
    )


class RequestList(generics.ListAPIView):
    """The hospital's own requests."""

    permission_classes = [IsHospitalStaff]

    serializer_class = RequestSerializer
    filterset_fields = ["status", "component", "blood_group", "urgency"]

    def get_queryset(self):
        return scope_to_hospitals(BloodRequest.objects.all(), self.request.user)


@extend_schema(responses=PublicHospitalSerializer(many=True))
@api_view(["GET"])
@permission_classes([AllowAny])
def public_hospitals(request):
    """Verified network hospitals."""
    return Response(
        PublicHospitalSerializer(Hospital.objects.filter(is_verified=True).select_related("region"), many=True).data
    )


@extend_schema(responses=serializers.ListSerializer(child=serializers.CharField()))
@api_view(["GET"])
@permission_classes([AllowAny])
def blood_types(request):
    return Response(BloodGroup.values)
