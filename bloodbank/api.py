"""Blood bank API under /api/blood-bank/: the seed's hospital endpoints, and richer ones beside them."""

from functools import reduce
from operator import or_

from django.db.models import Q, prefetch_related_objects
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from healthsync import services as core_services
from healthsync.api.seed_fields import seed_field_names
from healthsync.api.serializers import RegionField
from healthsync.api.views import RegistrationView, role_login_view
from healthsync.audit import note_patient_read
from healthsync.errors import Forbidden
from healthsync.models import Hospital
from healthsync.params import whole_number
from healthsync.api.throttling import rate_limited
from healthsync.permissions import ACT, IsHospitalStaff, acting_hospital, can, hospitals_for, scope_to_hospitals
from healthsync.security import require_recent_login

from . import selectors, services
from .models import Allocation, BloodGroup, BloodRequest, BloodUnit, Component, CrossmatchMethod, ParLevel, Transfer

# --- serializers -----------------------------------------------------------------------------


class UnitSerializer(serializers.ModelSerializer):
    blood_type = serializers.CharField(source="blood_group")
    din_display = serializers.CharField(read_only=True)
    expiry_date = serializers.DateField(source="last_day_of_use", read_only=True)
    hospital_fin = serializers.CharField(source="hospital.fin", read_only=True)

    class Meta:
        model = BloodUnit
        fields = ["id", "din", "din_display", "component", "product_code", "blood_type", "volume_ml", "status",
                  "collected_at", "expires_at", "expiry_date", "hospital", "hospital_fin"]
        read_only_fields = fields


class UnitEventSerializer(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    at = serializers.DateTimeField()
    by = serializers.CharField(source="by.email", default=None)
    hospital = serializers.CharField(source="hospital.fin")
    reason = serializers.CharField()
    request = serializers.IntegerField(source="request_id", allow_null=True)
    transfer = serializers.IntegerField(source="transfer_id", allow_null=True)


class UnitDetailSerializer(UnitSerializer):
    history = UnitEventSerializer(source="events", many=True, read_only=True)

    class Meta(UnitSerializer.Meta):
        fields = UnitSerializer.Meta.fields + ["history"]
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    unit = UnitSerializer(read_only=True)

    class Meta:
        model = Allocation
        fields = ["id", "status", "emergency", "anti_d_advised", "allocated_at", "issued_at", "crossmatch_method", "crossmatch_sample_id",
                  "crossmatch_sample_drawn_at", "crossmatch_compatible", "crossmatched_by", "crossmatched_at",
                  "transfusion_started_at", "transfusion_ended_at", "transfusion_reaction", "transfusion_note",
                  "transfusion_recorded_by", "returned_at", "returned_by", "unit"]


class RequestSerializer(serializers.ModelSerializer):
    request_id = serializers.IntegerField(source="id", read_only=True)
    blood_type = serializers.CharField(source="blood_group")
    status = serializers.CharField(source="get_status_display")
    status_code = serializers.CharField(source="status")
    urgency_level = serializers.IntegerField(source="urgency")
    units = serializers.IntegerField(source="units_requested")

    class Meta:
        model = BloodRequest
        fields = ["request_id", "hospital", "component", "blood_type", "units", "urgency_level", "needed_by", "status",
                  "status_code", "created_at", "fulfilled_at", "emergency_physician", "emergency_released_at"]
        read_only_fields = fields


class RequestDetailSerializer(RequestSerializer):
    allocations = AllocationSerializer(many=True, read_only=True)
    patient_reference = serializers.SerializerMethodField()

    def get_patient_reference(self, blood_request) -> str:
        """Encrypted at rest; its reading (the hospital's own staff only reach a request) is audited."""
        if blood_request.patient_reference and "request" in self.context:
            note_patient_read(self.context["request"], blood_request, ["patient_reference"])
        return blood_request.patient_reference or ""

    class Meta(RequestSerializer.Meta):
        fields = RequestSerializer.Meta.fields + ["patient_reference", "allocations"]
        read_only_fields = fields


HOSPITAL_ID = {"required": False, "min_value": 1, "max_value": 2**31 - 1}


def _positive(value):
    if value is not None and value <= 0:
        raise serializers.ValidationError("Must be a positive number.")
    return value


class InventoryAddSerializer(serializers.Serializer):
    blood_type = serializers.ChoiceField(choices=BloodGroup.choices)
    quantity_ml = serializers.IntegerField(required=False, validators=[_positive], max_value=5000)
    units = serializers.IntegerField(required=False, min_value=1, max_value=500, default=1)
    expiry_date = serializers.DateField(required=False, help_text="The label's expiry date; or give collected_at.")
    collected_at = serializers.DateTimeField(required=False, help_text="When the unit was collected: it is dated from then.")
    anticoagulant = serializers.CharField(required=False, allow_blank=True, default="", max_length=20)
    component = serializers.ChoiceField(choices=Component.choices, default=Component.RED_CELLS)
    din = serializers.CharField(required=False, max_length=24)
    hospital = serializers.IntegerField(**HOSPITAL_ID)


class RequestCreateSerializer(serializers.Serializer):
    blood_type = serializers.ChoiceField(choices=BloodGroup.choices)
    quantity_ml = serializers.IntegerField(required=False, validators=[_positive], max_value=100_000)
    units = serializers.IntegerField(required=False, min_value=1, max_value=200)
    urgency_level = serializers.IntegerField(min_value=1, max_value=5)
    component = serializers.ChoiceField(choices=Component.choices, default=Component.RED_CELLS)
    needed_by = serializers.DateTimeField(required=False)
    patient_reference = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    hospital = serializers.IntegerField(**HOSPITAL_ID)

    def validate(self, attrs):
        if attrs.get("units") is None and attrs.get("quantity_ml") is None:
            raise serializers.ValidationError({"units": ["Give units or quantity_ml."]})
        return attrs


class HospitalRegisterSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)
    contact_number = serializers.CharField(required=False, allow_blank=True, default="", max_length=40)
    email = serializers.EmailField(max_length=254)  # the column's length (the validator allows 320)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    region = RegionField(required=False, default=None)


class CrossmatchSerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=CrossmatchMethod.choices)
    sample_id = serializers.CharField(max_length=40, help_text="The identification on the recipient's sample tube.")
    sample_drawn_at = serializers.DateTimeField()
    compatible = serializers.BooleanField()


class TransfusionSerializer(serializers.Serializer):
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(required=False, allow_null=True)
    reaction = serializers.BooleanField(default=False, help_text="A transfusion reaction was suspected.")
    note = serializers.CharField(required=False, allow_blank=True, default="", help_text="What was seen (required with a reaction).")


class TransfusionAmendSerializer(serializers.Serializer):
    ended_at = serializers.DateTimeField(required=False, allow_null=True)
    reaction_note = serializers.CharField(required=False, allow_blank=True, default="", help_text="A suspected reaction seen since.")


class ReturnSerializer(serializers.Serializer):
    seal_intact = serializers.BooleanField(help_text="The bag was not spiked or opened and its seal is intact.")


class EmergencyReleaseSerializer(serializers.Serializer):
    physician = serializers.CharField(max_length=150)
    units = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=200)


class PublicHospitalSerializer(serializers.ModelSerializer):
    region = RegionField(read_only=True)

    class Meta:
        model = Hospital
        fields = ["id", "name", "address", "contact_number", "email", "region", "fin"]


class TransferSerializer(serializers.ModelSerializer):
    units = UnitSerializer(many=True, read_only=True)

    class Meta:
        model = Transfer
        fields = ["id", "from_hospital", "to_hospital", "request", "component", "blood_group", "units_requested",
                  "status", "note", "requested_at", "decided_at", "dispatched_at", "received_at", "units"]
        read_only_fields = ["id", "status", "requested_at", "decided_at", "dispatched_at", "received_at", "units"]
        extra_kwargs = {"units_requested": {"min_value": 1, "max_value": 200}, "note": {"max_length": 2000}}


class InventoryRowSerializer(serializers.Serializer):
    blood_type = serializers.CharField()
    units = serializers.IntegerField()
    quantity_ml = serializers.IntegerField()


class ComponentRowSerializer(InventoryRowSerializer):
    component = serializers.CharField()
    level = serializers.CharField(required=False, help_text="critical, low or adequate against the par levels (one hospital only).")


class InventorySerializer(serializers.Serializer):
    hospital = serializers.IntegerField(required=False)
    inventory = InventoryRowSerializer(many=True, help_text="One row per group: available red cells and whole blood.")
    components = ComponentRowSerializer(many=True)


class ParLevelSerializer(serializers.ModelSerializer):
    class Meta:
        model = ParLevel
        fields = ["id", "hospital", "blood_group", "component", "critical_units", "low_units"]
        read_only_fields = ["id"]
        extra_kwargs = {"critical_units": {"max_value": 10_000}, "low_units": {"max_value": 10_000}}


# --- seed endpoints ---------------------------------------------------------------------------


class HospitalRegisterView(RegistrationView):
    """Register a hospital and its administrator: 201 with the hospital `id` (and its FIN)."""

    @extend_schema(request=HospitalRegisterSerializer, responses={201: PublicHospitalSerializer})
    def post(self, request):
        serializer = HospitalRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.registered(
            request, email=serializer.validated_data["email"], create=lambda: core_services.hospital_register(**serializer.validated_data),
            respond=lambda hospital: Response({**PublicHospitalSerializer(hospital).data, "is_verified": hospital.is_verified},
                                              status=status.HTTP_201_CREATED),
        )


HospitalLoginView = role_login_view(
    name="Staff",
    allowed=lambda user: user.is_superuser or user.memberships.exists(),
    refusal="This login is for hospital staff; donors log in at /api/blood-bank/donor/login.",
    doc="Hospital staff login: `{email, password}` gives `{access, refresh}`.",
)


@extend_schema(parameters=[OpenApiParameter("hospital", int, description="Your hospital's id, if you work for several.")], responses=InventorySerializer)
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def inventory(request):
    """Available stock by group (red cells and whole blood, the seed's rows) and by component with levels."""
    hospital = acting_hospital(request.user, request.query_params.get("hospital"))
    summary = selectors.inventory_summary(hospitals=Hospital.objects.filter(pk=hospital.pk))
    return Response({"hospital": hospital.pk, **summary})


@extend_schema(request=InventoryAddSerializer, responses={201: inline_serializer("UnitsReceived", {"units": UnitSerializer(many=True)})})
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
@seed_field_names
def inventory_add(request):
    """Receive one bag of `quantity_ml` (or `units` such bags) into available stock; give `expiry_date` or `collected_at`."""
    serializer = InventoryAddSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    hospital = acting_hospital(request.user, data.get("hospital"))
    units = services.units_receive(
        hospital=hospital, blood_group=data["blood_type"], component=data["component"], volume_ml=data.get("quantity_ml"),
        count=data["units"], expiry_date=data.get("expiry_date"), collected_at=data.get("collected_at"),
        anticoagulant=data["anticoagulant"], din=data.get("din"), by=request.user,
    )
    return Response({"units": UnitSerializer(units, many=True).data}, status=status.HTTP_201_CREATED)


@extend_schema(request=RequestCreateSerializer, responses={201: inline_serializer("RequestCreated", {"request_id": serializers.IntegerField(), "status": serializers.CharField()})})
@rate_limited("blood_request")
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
@seed_field_names
def request_create(request):
    """Create a request; urgency 4-5 alerts the network and eligible donors (rate limited per user)."""
    serializer = RequestCreateSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    hospital = acting_hospital(request.user, data.get("hospital"))
    blood_request = services.request_create(
        hospital=hospital, blood_group=data["blood_type"], component=data["component"], units=data.get("units"),
        volume_ml=data.get("quantity_ml"), urgency=data["urgency_level"], needed_by=data.get("needed_by"),
        patient_reference=data["patient_reference"], by=request.user,
    )
    return Response(
        {"request_id": blood_request.pk, "status": blood_request.get_status_display(), "units": blood_request.units_requested},
        status=status.HTTP_201_CREATED,
    )



def _input(serializer_class, request) -> dict:
    """The request's body, checked by ``serializer_class`` (400 in the error shape when it fails)."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _not_in_network() -> Forbidden:
    """The network (other hospitals' stock, totals across it) is seen by its members only: verified hospitals."""
    return Forbidden("Your hospital joins the network once a platform administrator has verified it.", code="hospital_not_verified")


def _own_request(request, request_id) -> BloodRequest:
    return get_object_or_404(scope_to_hospitals(BloodRequest.objects.all(), request.user), pk=request_id)


@extend_schema(request=None, responses=inline_serializer("Fulfilment", {"status": serializers.CharField(), "allocated": UnitSerializer(many=True)}))
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def request_fulfil(request, request_id):
    """Allocate compatible units from the hospital's own stock; 409 when nothing compatible is available."""
    blood_request = _own_request(request, request_id)
    allocations = services.request_fulfil(request=blood_request, by=request.user)
    blood_request.refresh_from_db()
    units = [allocation.unit for allocation in allocations]
    prefetch_related_objects(units, "hospital")  # one query for the units' FIN, not one per unit
    return Response({
        "request_id": blood_request.pk,
        "status": blood_request.get_status_display(),
        "allocated": UnitSerializer(units, many=True).data,
    })


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
    return Response(PublicHospitalSerializer(Hospital.objects.filter(is_verified=True).select_related("region"), many=True).data)


@extend_schema(responses=serializers.ListSerializer(child=serializers.CharField()))
@api_view(["GET"])
@permission_classes([AllowAny])
def blood_types(request):
    return Response(BloodGroup.values)


# --- richer endpoints ---------------------------------------------------------------------------


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
        return scope_to_hospitals(BloodUnit.objects.select_related("hospital").prefetch_related("events__by", "events__hospital"), self.request.user)


def _own_unit(request, unit_id) -> BloodUnit:
    return get_object_or_404(scope_to_hospitals(BloodUnit.objects.all(), request.user), pk=unit_id)


@extend_schema(request=inline_serializer("DiscardUnit", {"reason": serializers.CharField()}), responses=UnitSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def unit_discard(request, unit_id):
    require_recent_login(request)
    unit = services.unit_discard(unit=_own_unit(request, unit_id), by=request.user, reason=str(request.data.get("reason", "")))
    return Response(UnitSerializer(unit).data)


@extend_schema(request=None, responses=UnitSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def unit_release(request, unit_id):
    unit = services.unit_release(unit=_own_unit(request, unit_id), by=request.user)
    return Response(UnitSerializer(unit).data)


class RequestDetail(generics.RetrieveAPIView):

    permission_classes = [IsHospitalStaff]
    serializer_class = RequestDetailSerializer

    def get_queryset(self):
        return scope_to_hospitals(BloodRequest.objects.prefetch_related("allocations__unit__hospital"), self.request.user)


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
    allocations = services.emergency_release(request=blood_request, physician=data["physician"], by=request.user, units=data.get("units"))
    return Response(AllocationSerializer(allocations, many=True).data)


@extend_schema(responses=inline_serializer("NetworkStock", {"hospital_id": serializers.IntegerField(), "hospital": serializers.CharField(), "fin": serializers.CharField(), "region": serializers.CharField(), "compatible_units": serializers.IntegerField()}, many=True))
@api_view(["GET"])
@permission_classes([IsHospitalStaff])
def request_network_stock(request, request_id):
    """Verified network hospitals holding compatible available stock for the request; 403
    `hospital_not_verified` when the request's hospital is not verified itself."""
    blood_request = _own_request(request, request_id)
    if not blood_request.hospital.is_verified:
        raise _not_in_network()
    return Response(selectors.network_stock_for(request=blood_request))


def _own_allocation(request, allocation_id) -> Allocation:
    return get_object_or_404(scope_to_hospitals(Allocation.objects.all(), request.user, via="request__hospital"), pk=allocation_id)


def _allocation_answer(allocation: Allocation) -> Response:
    """The allocation as stored after a step, with its unit."""
    return Response(AllocationSerializer(Allocation.objects.select_related("unit__hospital").get(pk=allocation.pk)).data)


@extend_schema(request=CrossmatchSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_crossmatch(request, allocation_id):
    """Record a reserved unit's crossmatch against the recipient's sample; an incompatible unit goes back to stock."""
    allocation = _own_allocation(request, allocation_id)
    data = _input(CrossmatchSerializer, request)
    allocation = services.allocation_crossmatch(
        allocation=allocation, method=data["method"], sample_id=data["sample_id"], sample_drawn_at=data["sample_drawn_at"],
        compatible=data["compatible"], by=request.user,
    )
    return _allocation_answer(allocation)


@extend_schema(request=None, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_issue(request, allocation_id):
    """Issue a reserved unit; red cells and whole blood need a compatible crossmatch on an in-date sample first (409)."""
    return Response(AllocationSerializer(services.allocation_issue(allocation=_own_allocation(request, allocation_id), by=request.user)).data)


@extend_schema(request=TransfusionSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_transfuse(request, allocation_id):
    """Record that an issued unit was transfused to the request's patient (start, end, any suspected reaction)."""
    allocation = _own_allocation(request, allocation_id)
    data = _input(TransfusionSerializer, request)
    allocation = services.allocation_transfuse(
        allocation=allocation, by=request.user, started_at=data["started_at"], ended_at=data.get("ended_at"),
        reaction=data["reaction"], note=data["note"],
    )
    return _allocation_answer(allocation)


@extend_schema(request=TransfusionAmendSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_transfusion_amend(request, allocation_id):
    """Complete a recorded transfusion: its end, or a suspected reaction seen later (which alerts the hospital's staff)."""
    allocation = _own_allocation(request, allocation_id)
    data = _input(TransfusionAmendSerializer, request)
    return _allocation_answer(services.allocation_transfusion_amend(
        allocation=allocation, by=request.user, ended_at=data.get("ended_at"), reaction_note=data["reaction_note"]))


@extend_schema(request=ReturnSerializer, responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_return(request, allocation_id):
    """An issued unit came back unused: back to stock if the rules allow (unit status `available`), else discarded."""
    require_recent_login(request)  # it may discard the unit, as units/{id}/discard does
    allocation = _own_allocation(request, allocation_id)
    seal_intact = _input(ReturnSerializer, request)["seal_intact"]
    return _allocation_answer(services.allocation_return(allocation=allocation, by=request.user, seal_intact=seal_intact))


@extend_schema(request=inline_serializer("CancelAllocation", {"reason": serializers.CharField(required=False)}), responses=AllocationSerializer)
@api_view(["POST"])
@permission_classes([IsHospitalStaff])
def allocation_cancel(request, allocation_id):
    allocation = services.allocation_cancel(allocation=_own_allocation(request, allocation_id), by=request.user, reason=str(request.data.get("reason", "")))
    return Response(AllocationSerializer(allocation).data)


class TransferListCreate(generics.ListCreateAPIView):
    """Transfers in and out of the user's hospitals. Create: the requesting hospital is `to_hospital`."""

    permission_classes = [IsHospitalStaff]

    serializer_class = TransferSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        mine = hospitals_for(self.request.user)
        return (Transfer.objects.filter(from_hospital__in=mine) | Transfer.objects.filter(to_hospital__in=mine)).prefetch_related("units").distinct()

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        to_hospital = acting_hospital(request.user, data["to_hospital"].pk)
        blood_request = data.get("request")
        if blood_request is not None and blood_request.hospital_id != to_hospital.pk:
            blood_request = None
        transfer = services.transfer_request(
            from_hospital=data["from_hospital"], to_hospital=to_hospital, component=data["component"],
            blood_group=data["blood_group"], units_requested=data["units_requested"], request=blood_request,
            note=data.get("note", ""), by=request.user,
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
    transfer = get_object_or_404(Transfer.objects.filter(pk=transfer_id), reduce(or_, (Q(**{f"{side}__in": mine}) for side in sides)))
    return Response(TransferSerializer(services.transfer_step(transfer=transfer, step=step, by=request.user)).data)


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
            hospital=data["hospital"], blood_group=data["blood_group"], component=data["component"],
            critical_units=data["critical_units"], low_units=data["low_units"],
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

