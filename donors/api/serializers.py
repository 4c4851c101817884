"""The donor API's serializers: the seed's names (``blood_type``...), the donor's own and the staff's."""

from rest_framework import serializers

from bloodbank.models import BloodGroup, Component
from bloodbank.rules import display_din
from healthsync.api.serializers import RegionField

from .. import rules, selectors
from ..models import Appointment, Deferral, Donation, DonationType, DonorProfile, Outcome, Sex

# A hospital or slot id beyond the database's integer range is an input error, not a lookup.
ROW_ID = {"min_value": 1, "max_value": 2**31 - 1}


class DonorRegisterSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=150)
    email = serializers.EmailField(max_length=254)  # the column's length (the validator allows 320)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=128)
    blood_type = serializers.ChoiceField(choices=BloodGroup.choices)
    date_of_birth = serializers.DateField()
    address = serializers.CharField(max_length=1000, allow_blank=True)
    contact_number = serializers.CharField(max_length=40, allow_blank=True)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True, default="")
    weight_kg = serializers.DecimalField(
        max_digits=5, decimal_places=1, required=False, allow_null=True, min_value=1, max_value=400
    )
    region = RegionField(required=False, default=None)


class DonorProfileSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="user.name", max_length=150)
    email = serializers.EmailField(source="user.email", read_only=True)
    blood_type = serializers.ChoiceField(source="blood_group", choices=BloodGroup.choices)
    date_of_birth = serializers.DateField(read_only=True)
    # Given at registration; then only staff change it (at screening): it sets the haemoglobin limit.
    sex = serializers.ChoiceField(choices=Sex.choices, allow_blank=True, read_only=True)
    weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True, min_value=1, max_value=400)
    region = RegionField(required=False)

    class Meta:
        model = DonorProfile
        fields = [
            "id",
            "name",
            "email",
            "blood_type",
            "blood_group_confirmed",
            "date_of_birth",
            "sex",
            "weight_kg",
            "contact_number",
            "address",
            "region",
            "available_for_emergencies",
            "notify_by_email",
            "notify_by_sms",
            "quiet_hours_start",
            "quiet_hours_end",
            "created_at",
        ]
        read_only_fields = ["id", "email", "blood_group_confirmed", "date_of_birth", "sex", "created_at"]
        extra_kwargs = {"contact_number": {"max_length": 40}, "address": {"max_length": 1000}}  # as at registration


class StaffDonorSerializer(serializers.ModelSerializer):
    """What staff see of a donor: no address or date of birth, the eligibility with its reasons."""

    name = serializers.CharField(source="user.name")
    email = serializers.EmailField(source="user.email")
    blood_type = serializers.CharField(source="blood_group")
    sex = serializers.ChoiceField(choices=Sex.choices, allow_blank=True, read_only=True)
    region = RegionField(read_only=True)
    eligibility = serializers.SerializerMethodField()

    class Meta:
        model = DonorProfile
        fields = [
            "id",
            "name",
            "email",
            "blood_type",
            "blood_group_confirmed",
            "sex",
            "weight_kg",
            "region",
            "available_for_emergencies",
            "contact_number",
            "eligibility",
        ]
        read_only_fields = fields

    def get_eligibility(self, donor) -> dict:
        return selectors.eligibility_as_dict(selectors.donor_eligibility(donor=donor))


class ScreeningSerializer(serializers.Serializer):
    haemoglobin_g_dl = serializers.DecimalField(max_digits=4, decimal_places=1, min_value=1, max_value=30)
    systolic_mmhg = serializers.IntegerField(min_value=40, max_value=300)
    diastolic_mmhg = serializers.IntegerField(min_value=20, max_value=200)
    pulse_bpm = serializers.IntegerField(min_value=20, max_value=250)
    temperature_c = serializers.DecimalField(max_digits=4, decimal_places=1, min_value=30, max_value=45)
    questionnaire_passed = serializers.BooleanField()
    # Measured by staff at every screening: the donor's own profile figure never decides it.
    weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1, min_value=1, max_value=400)
    sex = serializers.ChoiceField(choices=Sex.choices, required=False, allow_blank=True)
    passed = serializers.BooleanField(read_only=True)
    problems = serializers.ListField(child=serializers.CharField(), read_only=True)
    recorded_at = serializers.DateTimeField(read_only=True)


class DonationSerializer(serializers.ModelSerializer):
    donation_id = serializers.IntegerField(source="id", read_only=True)
    hospital_name = serializers.CharField(source="hospital.name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    din_display = serializers.SerializerMethodField()
    screening = serializers.SerializerMethodField()
    confirmed_blood_group = serializers.ChoiceField(choices=BloodGroup.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Donation
        fields = [
            "id",
            "donation_id",
            "hospital",
            "hospital_name",
            "donation_type",
            "visit_date",
            "quantity_ml",
            "status",
            "status_display",
            "din",
            "din_display",
            "collected_at",
            "confirmed_blood_group",
            "appointment",
            "registered_at",
            "screening",
        ]
        read_only_fields = fields

    def get_din_display(self, donation) -> str:
        return display_din(donation.din) if donation.din else ""

    def get_screening(self, donation) -> dict | None:
        screening = getattr(donation, "screening", None)
        if screening is None:
            return None
        return {"passed": screening.passed, "problems": screening.problems, "recorded_at": screening.recorded_at}


class StaffDonationSerializer(DonationSerializer):
    donor = serializers.IntegerField(source="donor_id")
    donor_name = serializers.CharField(source="donor.user.name")
    test_results = serializers.SerializerMethodField()

    class Meta(DonationSerializer.Meta):
        fields = DonationSerializer.Meta.fields + ["donor", "donor_name", "test_results"]
        read_only_fields = fields

    def get_test_results(self, donation) -> dict:
        return {result.marker: result.result for result in donation.test_results.all()}


class SlotSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    hospital = serializers.IntegerField(source="hospital_id", required=False, **ROW_ID)
    hospital_name = serializers.CharField(source="hospital.name", read_only=True)
    region = RegionField(source="hospital.region", read_only=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    capacity = serializers.IntegerField(min_value=1, max_value=500)
    donation_type = serializers.ChoiceField(choices=DonationType.choices, default=DonationType.WHOLE_BLOOD)
    places_taken = serializers.IntegerField(read_only=True, default=None, allow_null=True)
    places_free = serializers.SerializerMethodField()

    def get_places_free(self, slot) -> int | None:
        taken = getattr(slot, "places_taken", None)
        return None if taken is None else max(slot.capacity - taken, 0)


class SlotUpdateSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    capacity = serializers.IntegerField(min_value=1, max_value=500, required=False)


class AppointmentSerializer(serializers.ModelSerializer):
    slot = SlotSerializer(read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    donation = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = ["id", "status", "status_display", "booked_at", "changed_at", "slot", "donation"]
        read_only_fields = fields

    def get_donation(self, appointment) -> int | None:
        donation = getattr(appointment, "donation", None)
        return donation.pk if donation else None


class StaffAppointmentSerializer(AppointmentSerializer):
    donor = serializers.IntegerField(source="donor_id")
    donor_name = serializers.CharField(source="donor.user.name")

    class Meta(AppointmentSerializer.Meta):
        fields = AppointmentSerializer.Meta.fields + ["donor", "donor_name"]
        read_only_fields = fields


class DeferralSerializer(serializers.ModelSerializer):
    set_by = serializers.CharField(source="set_by.email", read_only=True, default=None, allow_null=True)
    lifted_by = serializers.CharField(source="lifted_by.email", read_only=True, default=None, allow_null=True)
    permanent = serializers.BooleanField(read_only=True)

    class Meta:
        model = Deferral
        fields = [
            "id",
            "donor",
            "reason",
            "starts_on",
            "ends_on",
            "permanent",
            "hospital",
            "donation",
            "set_by",
            "created_at",
            "lifted_at",
            "lifted_by",
        ]
        read_only_fields = [
            "id",
            "donor",
            "permanent",
            "hospital",
            "donation",
            "set_by",
            "created_at",
            "lifted_at",
            "lifted_by",
        ]


class DonateSerializer(serializers.Serializer):
    hospital_id = serializers.IntegerField(**ROW_ID)
    quantity_ml = serializers.IntegerField(required=False, allow_null=True, min_value=100, max_value=1000)


class BookingSerializer(serializers.Serializer):
    slot = serializers.IntegerField(**ROW_ID)


class ActingHospitalSerializer(serializers.Serializer):
    hospital = serializers.IntegerField(required=False, allow_null=True, **ROW_ID)


class EligibilityQuery(serializers.Serializer):
    date = serializers.DateField(required=False)
    donation_type = serializers.ChoiceField(choices=DonationType.choices, default=rules.WHOLE_BLOOD)


class CollectionSerializer(serializers.Serializer):
    components = serializers.ListField(
        child=serializers.ChoiceField(choices=Component.choices), required=False, allow_empty=True
    )
    volume_ml = serializers.IntegerField(required=False, allow_null=True, min_value=100, max_value=1000)


class MarkerResultSerializer(serializers.Serializer):
    marker = serializers.CharField(max_length=30)
    result = serializers.ChoiceField(choices=Outcome.choices)
