"""Requests: one request with its allocations, cancellation, emergency release, network stock."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from healthsync.permissions import IsHospitalStaff, scope_to_hospitals
from healthsync.security import require_recent_login

from .. import selectors, services
from ..models import BloodRequest
from .common import _input, _not_in_network, _own_request
from .serializers import (
    AllocationSerializer,
    EmergencyReleaseSerializer,
    RequestDetailSerializer,
    RequestSerializer,
)


class RequestDetail(generics.RetrieveAPIView):
    permission_classes = [IsHospitalStaff]
    serializer_class = RequestDetailSerializer

    def get_queryset(self):
        return scope_to_hospitals(
            BloodRequest.objects.prefetch_related("allocations__unit__hospital"), self.request.user
        )


@extend_schema(request=None, responses=RequestSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def request_cancel(request, request_id):
    blood_request = services.request_cancel(request=_own_request(request, request_id), by=request.user)
    return Response(RequestSerializer(blood_request).data)


@extend_schema(request=EmergencyReleaseSerializer, responses=AllocationSerializer(many=True))
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def request_emergency_release(request, request_id):
    """Uncrossmatched group O red cells for an urgency-5 request, recorded with the authorising physician."""
    require_recent_login(request)
    blood_request = _own_request(request, request_id)
    data = _input(EmergencyReleaseSerializer, request)
    allocations = services.emergency_release(
        request=blood_request, physician=data["physician"], by=request.user, units=data.get("units")
    )
    return Response(AllocationSerializer(allocations, many=True).data)


@extend_schema(
    responses=inline_serializer(
        "NetworkStock",
        {
            "hospital_id": serializers.IntegerField(),
            "hospital": serializers.CharField(),
            "fin": serializers.CharField(),
            "region": serializers.CharField(),
            "compatible_units": serializers.IntegerField(),
        },
        many=True,
    )
)
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def request_network_stock(request, request_id):
    """Verified network hospitals holding compatible available stock for the request; 403
    `hospital_not_verified` when the request's hospital is not verified itself."""
    blood_request = _own_request(request, request_id)
    if not blood_request.hospital.is_verified:
        raise _not_in_network()
    return Response(selectors.network_stock_for(request=blood_request))
