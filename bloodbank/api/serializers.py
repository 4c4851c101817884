"""The blood bank API's serializers: the seed's field names (``blood_type``, ``quantity_ml``...) and
the richer endpoints'."""

from rest_framework import serializers

from healthsync.api.serializers import RegionField
from healthsync.audit import note_patient_read
from healthsync.models import Hospital

from ..models import Allocation, BloodGroup, BloodRequest, BloodUnit, Component, CrossmatchMethod, ParLevel, Transfer


class UnitSerializer(serializers.ModelSerializer):
    blood_type = serializers.CharField(source="blood_group")
    din_display = serializers.CharField(read_only=True)
    expiry_date = serializers.DateField(source="last_day_of_use", read_only=True)
    hospital_fin = serializers.CharField(source="hospital.fin", read_only=True)

    class Meta:
        model = BloodUnit
        fields = [
            "id",
            "din",
            "din_display",
            "component",
            "product_code",
            "blood_type",
            "volume_ml",
            "status",
            "collected_at",
            "expires_at",
            "expiry_date",
            "hospital",
            "hospital_fin",
        ]
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
        fields = [
            "id",
            "status",
            "emergency",
            "anti_d_advised",
            "allocated_at",
            "issued_at",
            "crossmatch_method",
            "crossmatch_sample_id",
            "crossmatch_sample_drawn_at",
            "crossmatch_compatible",
            "crossmatched_by",
            "crossmatched_at",
            "transfusion_started_at",
            "transfusion_ended_at",
            "transfusion_reaction",
            "transfusion_note",
            "transfusion_recorded_by",
            "returned_at",
            "returned_by",
            "unit",
        ]


class RequestSerializer(serializers.ModelSerializer):
    request_id = serializers.IntegerField(source="id", read_only=True)
    blood_type = serializers.CharField(source="blood_group")
    status = serializers.CharField(source="get_status_display")
    status_code = serializers.CharField(source="status")
    urgency_level = serializers.IntegerField(source="urgency")
    units = serializers.IntegerField(source="units_requested")

    class Meta:
        model = BloodRequest
        fields = [
            "request_id",
            "hospital",
            "component",
            "blood_type",
            "units",
            "urgency_level",
            "needed_by",
            "status",
            "status_code",
            "created_at",
            "fulfilled_at",
            "emergency_physician",
            "emergency_released_at",
        ]
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
    collected_at = serializers.DateTimeField(
        required=False, help_text="When the unit was collected: it is dated from then."
    )
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
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="What was seen (required with a reaction)."
    )


class TransfusionAmendSerializer(serializers.Serializer):
    ended_at = serializers.DateTimeField(required=False, allow_null=True)
    reaction_note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="A suspected reaction seen since."
    )


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
        fields = [
            "id",
            "from_hospital",
            "to_hospital",
            "request",
            "component",
            "blood_group",
            "units_requested",
            "status",
            "note",
            "requested_at",
            "decided_at",
            "dispatched_at",
            "received_at",
            "units",
        ]
        read_only_fields = ["id", "status", "requested_at", "decided_at", "dispatched_at", "received_at", "units"]
        extra_kwargs = {"units_requested": {"min_value": 1, "max_value": 200}, "note": {"max_length": 2000}}


class InventoryRowSerializer(serializers.Serializer):
    blood_type = serializers.CharField()
    units = serializers.IntegerField()
    quantity_ml = serializers.IntegerField()


class ComponentRowSerializer(InventoryRowSerializer):
    component = serializers.CharField()
    level = serializers.CharField(
        required=False, help_text="critical, low or adequate against the par levels (one hospital only)."
    )


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
