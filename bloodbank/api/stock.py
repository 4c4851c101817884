"""Stock across hospitals: par levels, and the network's inventory."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from healthsync.models import Hospital
from healthsync.permissions import ACT, IsHospitalStaff, can, hospitals_for, scope_to_hospitals

from .. import selectors, services
from ..models import ParLevel
from .common import _not_in_network
from .serializers import (
    InventorySerializer,
    ParLevelSerializer,
)


class ParLevelListCreate(generics.ListCreateAPIView):
    """Par levels of the user's hospitals; POST sets (creates or replaces) one."""

    permission_classes = [IsHospitalStaff]

    serializer_class = ParLevelSerializer

    def get_queryset(self):
        return scope_to_hospitals(ParLevel.objects.all(), self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not can(request.user, ACT, data["hospital"]):
            raise Http404("No such hospital among yours.")
        par = services.par_level_set(
            hospital=data["hospital"],
            blood_group=data["blood_group"],
            component=data["component"],
            critical_units=data["critical_units"],
            low_units=data["low_units"],
        )
        return Response(ParLevelSerializer(par).data, status=status.HTTP_201_CREATED)


@extend_schema(responses=InventorySerializer)
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def network_inventory(request):
    """Available stock across verified network hospitals (totals, no per-hospital breakdown), for staff
    of a verified hospital and platform administrators; 403 `hospital_not_verified` otherwise."""
    if not (request.user.is_platform_admin or hospitals_for(request.user).filter(is_verified=True).exists()):
        raise _not_in_network()
    return Response(selectors.inventory_summary(hospitals=Hospital.objects.filter(is_verified=True)))
