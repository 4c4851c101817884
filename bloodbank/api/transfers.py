"""Transfers between network hospitals: the list, a new one, and each step (``services.TRANSFER_STEPS``)."""

from functools import reduce
from operator import or_

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.response import Response

from healthsync.permissions import IsHospitalStaff, acting_hospital, hospitals_for

from .. import services
from ..models import Transfer
from .serializers import (
    TransferSerializer,
)


class TransferListCreate(generics.ListCreateAPIView):
    """Transfers in and out of the user's hospitals. Create: the requesting hospital is `to_hospital`."""

    permission_classes = [IsHospitalStaff]

    serializer_class = TransferSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        mine = hospitals_for(self.request.user)
        return (
            (Transfer.objects.filter(from_hospital__in=mine) | Transfer.objects.filter(to_hospital__in=mine))
            .prefetch_related("units")
            .distinct()
        )

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        to_hospital = acting_hospital(request.user, data["to_hospital"].pk)
        blood_request = data.get("request")
        if blood_request is not None and blood_request.hospital_id != to_hospital.pk:
            blood_request = None
        transfer = services.transfer_request(
            from_hospital=data["from_hospital"],
            to_hospital=to_hospital,
            component=data["component"],
            blood_group=data["blood_group"],
            units_requested=data["units_requested"],
            request=blood_request,
            note=data.get("note", ""),
            by=request.user,
        )
        return Response(TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses=TransferSerializer, operation_id="blood_bank_transfer_step")
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def transfer_step(request, transfer_id, step):
    # approve / decline / dispatch (the holding hospital), receive (the requesting hospital), cancel (either,
    # before dispatch): services.TRANSFER_STEPS. A transfer not on the step's side of the user's hospitals is 404.
    if step not in services.TRANSFER_STEPS:
        raise Http404("Unknown transfer step.")
    _, sides, _ = services.TRANSFER_STEPS[step]
    mine = hospitals_for(request.user)
    transfer = get_object_or_404(
        Transfer.objects.filter(pk=transfer_id), reduce(or_, (Q(**{f"{side}__in": mine}) for side in sides))
    )
    return Response(TransferSerializer(services.transfer_step(transfer=transfer, step=step, by=request.user)).data)
