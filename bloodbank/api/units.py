"""Units: lists (expiring ones too), one unit with its history, discard and release."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from healthsync.params import whole_number
from healthsync.permissions import IsHospitalStaff, hospitals_for, scope_to_hospitals
from healthsync.security import require_recent_login

from .. import selectors, services
from ..models import BloodUnit
from .serializers import (
    UnitDetailSerializer,
    UnitSerializer,
)


class UnitList(generics.ListAPIView):
    """Units of the user's hospitals; filter by status, component, blood group, DIN, `expiring_within` days."""

    permission_classes = [IsHospitalStaff]

    serializer_class = UnitSerializer
    filterset_fields = ["status", "component", "blood_group", "hospital"]

    def get_queryset(self):
        units = scope_to_hospitals(BloodUnit.objects.select_related("hospital"), self.request.user)
        din = self.request.query_params.get("din")
        if din:
            units = units.filter(din=din.replace(" ", "").upper()[:13])
        days = whole_number(self.request.query_params, "expiring_within", maximum=selectors.EXPIRING_WITHIN_MAX_DAYS)
        if days is not None:
            units = selectors.units_expiring(hospitals=hospitals_for(self.request.user), days=days).filter(pk__in=units)
        return units


class UnitDetail(generics.RetrieveAPIView):
    """A unit with its whole history (vein-to-vein traceability)."""

    permission_classes = [IsHospitalStaff]

    serializer_class = UnitDetailSerializer

    def get_queryset(self):
        return scope_to_hospitals(
            BloodUnit.objects.select_related("hospital").prefetch_related("events__by", "events__hospital"),
            self.request.user,
        )


def _own_unit(request, unit_id) -> BloodUnit:
    return get_object_or_404(scope_to_hospitals(BloodUnit.objects.all(), request.user), pk=unit_id)


@extend_schema(request=inline_serializer("DiscardUnit", {"reason": serializers.CharField()}), responses=UnitSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def unit_discard(request, unit_id):
    require_recent_login(request)
    unit = services.unit_discard(
        unit=_own_unit(request, unit_id), by=request.user, reason=str(request.data.get("reason", ""))
    )
    return Response(UnitSerializer(unit).data)


@extend_schema(request=None, responses=UnitSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def unit_release(request, unit_id):
    unit = services.unit_release(unit=_own_unit(request, unit_id), by=request.user)
    return Response(UnitSerializer(unit).data)
