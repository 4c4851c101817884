"""Allocations: crossmatch, issue, transfusion, return, cancellation."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from healthsync.permissions import IsHospitalStaff, scope_to_hospitals
from healthsync.security import require_recent_login

from .. import services
from ..models import Allocation
from .common import _input
from .serializers import (
    AllocationSerializer,
    CrossmatchSerializer,
    ReturnSerializer,
    TransfusionAmendSerializer,
    TransfusionSerializer,
)


def _own_allocation(request, allocation_id) -> Allocation:
    return get_object_or_404(
        scope_to_hospitals(Allocation.objects.all(), request.user, via="request__hospital"), pk=allocation_id
    )


def _allocation_answer(allocation: Allocation) -> Response:
    """The allocation as stored after a step, with its unit."""
    return Response(
        AllocationSerializer(Allocation.objects.select_related("unit__hospital").get(pk=allocation.pk)).data
    )


@extend_schema(request=CrossmatchSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_crossmatch(request, allocation_id):
    """Record a reserved unit's crossmatch against the recipient's sample; an incompatible unit goes back to stock."""
    allocation = _own_allocation(request, allocation_id)
    data = _input(CrossmatchSerializer, request)
    allocation = services.allocation_crossmatch(
        allocation=allocation,
        method=data["method"],
        sample_id=data["sample_id"],
        sample_drawn_at=data["sample_drawn_at"],
        compatible=data["compatible"],
        by=request.user,
    )
    return _allocation_answer(allocation)


@extend_schema(request=None, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_issue(request, allocation_id):
    """Issue a reserved unit; red cells and whole blood need a compatible crossmatch on an in-date
    sample first (409)."""
    return Response(
        AllocationSerializer(
            services.allocation_issue(allocation=_own_allocation(request, allocation_id), by=request.user)
        ).data
    )


@extend_schema(request=TransfusionSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_transfuse(request, allocation_id):
    """Record that an issued unit was transfused to the request's patient (start, end, any suspected reaction)."""
    allocation = _own_allocation(request, allocation_id)
    data = _input(TransfusionSerializer, request)
    allocation = services.allocation_transfuse(
        allocation=allocation,
        by=request.user,
        started_at=data["started_at"],
        ended_at=data.get("ended_at"),
        reaction=data["reaction"],
        note=data["note"],
    )
    return _allocation_answer(allocation)


@extend_schema(request=TransfusionAmendSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_transfusion_amend(request, allocation_id):
    """Complete a recorded transfusion: its end, or a suspected reaction seen later (which alerts the
    hospital's staff)."""
    allocation = _own_allocation(request, allocation_id)
    data = _input(TransfusionAmendSerializer, request)
    return _allocation_answer(
        services.allocation_transfusion_amend(
            allocation=allocation, by=request.user, ended_at=data.get("ended_at"), reaction_note=data["reaction_note"]
        )
    )


@extend_schema(request=ReturnSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_return(request, allocation_id):
    """An issued unit came back unused: back to stock if the rules allow (unit status `available`), else discarded."""
    require_recent_login(request)  # it may discard the unit, as units/{id}/discard does
    allocation = _own_allocation(request, allocation_id)
    seal_intact = _input(ReturnSerializer, request)["seal_intact"]
    return _allocation_answer(
        services.allocation_return(allocation=allocation, by=request.user, seal_intact=seal_intact)
    )


@extend_schema(
    request=inline_serializer("CancelAllocation", {"reason": serializers.CharField(required=False)}),
    responses=AllocationSerializer,
)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_cancel(request, allocation_id):
    allocation = services.allocation_cancel(
        allocation=_own_allocation(request, allocation_id), by=request.user, reason=str(request.data.get("reason", ""))
    )
    return Response(AllocationSerializer(allocation).data)
