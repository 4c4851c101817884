"""Donor API under /api/blood-bank/: the seed's donor endpoints, the donor's own pages, and staff endpoints.

Donor endpoints answer only donors (their own profile: ``selectors.donor_of``); staff endpoints
answer only hospital staff (403 for donors) and reach rows through ``scope_to_hospitals``.
"""

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from bloodbank.api import UnitSerializer
from bloodbank.models import BloodGroup, Component
from bloodbank.rules import display_din
from healthsync.api.pagination import StandardPagination, paginated
from healthsync.api.seed_fields import seed_field_names
from healthsync.api.serializers import RegionField
from healthsync.api.views import RegistrationView, role_login_view
from healthsync.models import Hospital
from healthsync.params import whole_number
from healthsync.permissions import IsHospitalStaff, acting_hospital, scope_to_hospitals
from healthsync.regions import region_find
from healthsync.security import require_recent_login

from . import rules, selectors, services
from .models import Appointment, AppointmentStatus, Deferral, Donation, DonationSlot, DonationType, DonorProfile, Outcome, Sex

# --- serializers -----------------------------------------------------------------------------


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
    weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1, required=False, allow_null=True, min_value=1, max_value=400)
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
        fields = ["id", "name", "email", "blood_type", "blood_group_confirmed", "date_of_birth", "sex", "weight_kg",
                  "contact_number", "address", "region", "available_for_emergencies", "notify_by_email", "notify_by_sms",
                  "quiet_hours_start", "quiet_hours_end", "created_at"]
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
        fields = ["id", "name", "email", "blood_type", "blood_group_confirmed", "sex", "weight_kg", "region",
                  "available_for_emergencies", "contact_number", "eligibility"]
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
        fields = ["id", "donation_id", "hospital", "hospital_name", "donation_type", "visit_date", "quantity_ml", "status",
                  "status_display", "din", "din_display", "collected_at", "confirmed_blood_group", "appointment",
                  "registered_at", "screening"]
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
        fields = ["id", "donor", "reason", "starts_on", "ends_on", "permanent", "hospital", "donation", "set_by", "created_at",
                  "lifted_at", "lifted_by"]
        read_only_fields = ["id", "donor", "permanent", "hospital", "donation", "set_by", "created_at", "lifted_at", "lifted_by"]


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
    components = serializers.ListField(child=serializers.ChoiceField(choices=Component.choices), required=False, allow_empty=True)
    volume_ml = serializers.IntegerField(required=False, allow_null=True, min_value=100, max_value=1000)


class MarkerResultSerializer(serializers.Serializer):
    marker = serializers.CharField(max_length=30)
    result = serializers.ChoiceField(choices=Outcome.choices)


# --- access -----------------------------------------------------------------------------------


def staff_api(methods):
    """A staff endpoint: authenticated hospital staff only; rows then come through scope_to_hospitals."""
    def wrap(view):
        return api_view(methods)(permission_classes([IsHospitalStaff])(view))
    return wrap


def _paginated(request, queryset, serializer_class):
    paginator = StandardPagination()
    page = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


# --- seed endpoints ---------------------------------------------------------------------------


class DonorRegisterView(RegistrationView):
    """Register a donor: an account (donor role) and a profile. Under 17: 400 naming `date_of_birth`."""

    @extend_schema(request=DonorRegisterSerializer, responses={201: DonorProfileSerializer})
    @seed_field_names
    def post(self, request):
        serializer = DonorRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        return self.registered(
            request, email=data["email"],
            create=lambda: services.donor_register(
                name=data["name"], email=data["email"], password=data["password"], blood_group=data["blood_type"],
                date_of_birth=data["date_of_birth"], address=data["address"], contact_number=data["contact_number"],
                sex=data["sex"], weight_kg=data.get("weight_kg"), region=data["region"],
            ),
            respond=lambda donor: Response(DonorProfileSerializer(donor).data, status=status.HTTP_201_CREATED),
        )


DonorLoginView = role_login_view(
    name="Donor",
    allowed=lambda user: user.is_donor,
    refusal="This login is for donors; hospital staff log in at /api/blood-bank/hospital/login.",
    doc="Donor login: `{email, password}` gives `{access, refresh}`.",
)


@extend_schema(
    request=inline_serializer("Donate", {"hospital_id": serializers.IntegerField(), "quantity_ml": serializers.IntegerField(required=False)}),
    responses={201: DonationSerializer},
)
@api_view(["POST"])
def donor_donate(request):
    """Register for a whole-blood donation at the hospital today; 409 with every reason and the next eligible date."""
    donor = selectors.donor_of(request.user)
    payload = DonateSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    hospital = Hospital.objects.filter(pk=payload.validated_data["hospital_id"]).first()
    if hospital is None:
        raise serializers.ValidationError({"hospital_id": ["No such hospital."]})
    donation = services.donation_register_walk_in(donor=donor, hospital=hospital, quantity_ml=payload.validated_data.get("quantity_ml"))
    return Response(DonationSerializer(donation).data, status=status.HTTP_201_CREATED)


@extend_schema(responses=inline_serializer("DonorHistory", {"donations": DonationSerializer(many=True), "appointments": AppointmentSerializer(many=True)}))
@api_view(["GET"])
def donor_history(request):
    """The donor's own visits (with their state) and appointments, newest first."""
    history = selectors.donor_history(donor=selectors.donor_of(request.user))
    return Response({
        "donations": DonationSerializer(history["donations"], many=True).data,
        "appointments": AppointmentSerializer(history["appointments"], many=True).data,
    })


# --- the donor's own endpoints -----------------------------------------------------------------


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
    parameters=[OpenApiParameter("date", str, description="ISO date (default today)"),
                OpenApiParameter("donation_type", str, enum=DonationType.values)],
    responses=inline_serializer("Eligibility", {"eligible": serializers.BooleanField(), "reasons": serializers.ListField(), "next_eligible_date": serializers.DateField(allow_null=True)}),
)
@api_view(["GET"])
def donor_eligibility(request):
    """Eligible now (everything but haemoglobin, which screening measures), with every reason and the next eligible date."""
    donor = selectors.donor_of(request.user)
    query = EligibilityQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    result = selectors.donor_eligibility(
        donor=donor, on_date=query.validated_data.get("date"), donation_type=query.validated_data["donation_type"]
    )
    return Response({**selectors.eligibility_as_dict(result), "donation_type": query.validated_data["donation_type"],
                     "available_for_emergencies": donor.available_for_emergencies})


@extend_schema(
    parameters=[OpenApiParameter("hospital", int), OpenApiParameter("donation_type", str), OpenApiParameter("region", str)],
    responses=paginated(SlotSerializer),
)
@api_view(["GET"])
@permission_classes([AllowAny])
def slots_free(request):
    """Future slots with free places at network hospitals (public)."""
    slots = selectors.slots_free(
        hospital_id=whole_number(request.query_params, "hospital"),
        donation_type=request.query_params.get("donation_type") or None, region=region_find(request.query_params.get("region")),
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


# --- staff endpoints ------------------------------------------------------------------------------


@extend_schema(methods=["GET"], responses=paginated(SlotSerializer), operation_id="blood_bank_staff_slots_list")
@extend_schema(methods=["POST"], request=SlotSerializer, responses={201: SlotSerializer})
@staff_api(["GET", "POST"])
def staff_slots(request):
    """The slots of the user's hospitals; POST publishes one (`hospital` if you work for several)."""
    if request.method == "GET":
        slots = selectors.slots_for_staff(user=request.user)
        if request.query_params.get("upcoming") in ("1", "true"):
            slots = slots.filter(starts_at__gte=timezone.now())
        return _paginated(request, slots, SlotSerializer)
    serializer = SlotSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    hospital = acting_hospital(request.user, data.get("hospital_id"))
    slot = services.slot_create(
        hospital=hospital, starts_at=data["starts_at"], ends_at=data["ends_at"], capacity=data["capacity"],
        donation_type=data["donation_type"], by=request.user,
    )
    return Response(SlotSerializer(selectors.slots_for_staff(user=request.user).get(pk=slot.pk)).data, status=status.HTTP_201_CREATED)


@extend_schema(request=SlotUpdateSerializer, responses=SlotSerializer)
@staff_api(["GET", "PATCH", "DELETE"])
def staff_slot(request, slot_id):
    slot = get_object_or_404(selectors.slots_for_staff(user=request.user), pk=slot_id)
    if request.method == "DELETE":
        services.slot_delete(slot=slot)
        return Response(status=status.HTTP_204_NO_CONTENT)
    if request.method == "PATCH":
        serializer = SlotUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.slot_update(slot=slot, **serializer.validated_data)
        slot = selectors.slots_for_staff(user=request.user).get(pk=slot.pk)
    return Response(SlotSerializer(slot).data)


@extend_schema(parameters=[OpenApiParameter("status", str, enum=AppointmentStatus.values), OpenApiParameter("slot", int)],
               responses=paginated(StaffAppointmentSerializer))
@staff_api(["GET"])
def staff_appointments(request):
    appointments = selectors.appointments_for_staff(user=request.user)
    if request.query_params.get("status"):
        appointments = appointments.filter(status=request.query_params["status"])
    slot = whole_number(request.query_params, "slot")
    if slot is not None:
        appointments = appointments.filter(slot_id=slot)
    return _paginated(request, appointments, StaffAppointmentSerializer)


APPOINTMENT_STEPS = {"check-in", "no-show", "cancel"}


@extend_schema(request=None, responses={200: StaffAppointmentSerializer, 201: StaffDonationSerializer})
@staff_api(["POST"])
def staff_appointment_step(request, appointment_id, step):
    """check-in (opens a visit awaiting screening: 201 with it), no-show, cancel."""
    if step not in APPOINTMENT_STEPS:
        raise Http404("Unknown step.")
    appointment = get_object_or_404(selectors.appointments_for_staff(user=request.user), pk=appointment_id)
    if step == "check-in":
        donation = services.appointment_check_in(appointment=appointment, by=request.user)
        return Response(StaffDonationSerializer(donation).data, status=status.HTTP_201_CREATED)
    service = services.appointment_no_show if step == "no-show" else services.appointment_cancel
    return Response(StaffAppointmentSerializer(service(appointment=appointment, by=request.user)).data)


@extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("date", str)], responses=paginated(StaffDonationSerializer), operation_id="blood_bank_staff_donations_list")
@staff_api(["GET"])
def staff_donations(request):
    """Visits at the user's hospitals; filter by `status` and `date` (visit date)."""
    donations = selectors.donations_for_staff(user=request.user).prefetch_related("test_results").select_related("screening")
    if request.query_params.get("status"):
        donations = donations.filter(status=request.query_params["status"])
    if request.query_params.get("date"):
        day = serializers.DateField().to_internal_value(request.query_params["date"])
        donations = donations.filter(visit_date=day)
    return _paginated(request, donations, StaffDonationSerializer)


def _own_donation(request, donation_id) -> Donation:
    return get_object_or_404(selectors.donations_for_staff(user=request.user), pk=donation_id)


@extend_schema(responses=StaffDonationSerializer)
@staff_api(["GET"])
def staff_donation(request, donation_id):
    return Response(StaffDonationSerializer(_own_donation(request, donation_id)).data)


@extend_schema(request=ScreeningSerializer, responses={201: ScreeningSerializer})
@staff_api(["POST"])
def staff_screening(request, donation_id):
    """Record the screening: passed, the visit awaits collection; failed, the donor is deferred and no unit is made
    (so it needs a recent login, 403 `reauthentication_required`)."""
    require_recent_login(request)
    donation = _own_donation(request, donation_id)
    serializer = ScreeningSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    screening = services.screening_record(donation=donation, by=request.user, **serializer.validated_data)
    return Response(ScreeningSerializer(screening).data, status=status.HTTP_201_CREATED)


@extend_schema(request=CollectionSerializer, responses={201: UnitSerializer(many=True)})
@staff_api(["POST"])
def staff_collection(request, donation_id):
    """Record the collection: the units (whole blood, or `components`) enter quarantine under one DIN."""
    donation = _own_donation(request, donation_id)
    serializer = CollectionSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    units = services.donation_collect(donation=donation, by=request.user, **serializer.validated_data)
    return Response({"din": units[0].din, "din_display": units[0].din_display, "units": UnitSerializer(units, many=True).data},
                    status=status.HTTP_201_CREATED)


@extend_schema(request=MarkerResultSerializer, responses={201: StaffDonationSerializer})
@staff_api(["POST"])
def staff_test_result(request, donation_id):
    """Record an infection-marker result under a managed marker name (else 400 `unknown_marker`); a positive one
    discards the units with the reason and defers the donor, so it needs a recent login (403 `reauthentication_required`)."""
    require_recent_login(request)
    donation = _own_donation(request, donation_id)
    serializer = MarkerResultSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    services.marker_result_record(donation=donation, by=request.user, **serializer.validated_data)
    return Response(StaffDonationSerializer(_own_donation(request, donation_id)).data, status=status.HTTP_201_CREATED)


@extend_schema(request=inline_serializer("Typing", {"blood_group": serializers.ChoiceField(choices=BloodGroup.choices)}), responses=StaffDonationSerializer)
@staff_api(["POST"])
def staff_typing(request, donation_id):
    """Record the laboratory ABO/RhD typing: it confirms the donor's group and labels the quarantined units."""
    donation = services.typing_confirm(
        donation=_own_donation(request, donation_id), blood_group=str(request.data.get("blood_group", "")), by=request.user
    )
    return Response(StaffDonationSerializer(donation).data)


@extend_schema(request=None, responses=UnitSerializer(many=True))
@staff_api(["POST"])
def staff_release(request, donation_id):
    """Release the donation's quarantined units (409 naming each missing or positive test and unconfirmed typing)."""
    units = services.donation_release(donation=_own_donation(request, donation_id), by=request.user)
    return Response(UnitSerializer(units, many=True).data)


@extend_schema(request=None, responses=StaffDonationSerializer)
@staff_api(["POST"])
def staff_donation_cancel(request, donation_id):
    donation = services.donation_cancel(donation=_own_donation(request, donation_id), by=request.user)
    return Response(StaffDonationSerializer(donation).data)


@extend_schema(parameters=[OpenApiParameter("q", str), OpenApiParameter("blood_group", str), OpenApiParameter("region", str)],
               responses=paginated(StaffDonorSerializer))
@staff_api(["GET"])
def staff_donors(request):
    """Donors who visited or booked at the user's hospitals, with their eligibility now; search by name/email, group, region."""
    donors = selectors.with_eligibility_facts(selectors.donors_for_staff(user=request.user))
    params = request.query_params
    if params.get("q"):
        donors = donors.filter(Q(user__name__icontains=params["q"]) | Q(user__email__icontains=params["q"]))
    if params.get("blood_group"):
        donors = donors.filter(blood_group=params["blood_group"].strip().upper().replace(" ", "+"))
    if params.get("region"):
        donors = donors.filter(region=region_find(params["region"]))
    return _paginated(request, donors, StaffDonorSerializer)


@extend_schema(request=DeferralSerializer, responses={200: DeferralSerializer(many=True), 201: DeferralSerializer})
@staff_api(["GET", "POST"])
def staff_donor_deferrals(request, donor_id):
    """A donor's deferrals; POST `{reason, starts_on, ends_on?}` defers them (no `ends_on`: permanently)."""
    donor = get_object_or_404(selectors.donors_for_staff(user=request.user), pk=donor_id)
    if request.method == "GET":
        return Response(DeferralSerializer(donor.deferrals.select_related("set_by"), many=True).data)
    require_recent_login(request)  # it defers the donor
    serializer = DeferralSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    acting = ActingHospitalSerializer(data=request.data)
    acting.is_valid(raise_exception=True)
    deferral = services.deferral_create(
        donor=donor, reason=data["reason"], starts_on=data["starts_on"], ends_on=data.get("ends_on"),
        hospital=acting_hospital(request.user, acting.validated_data.get("hospital")), by=request.user,
    )
    return Response(DeferralSerializer(deferral).data, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses=DeferralSerializer)
@staff_api(["POST"])
def staff_deferral_lift(request, deferral_id):
    deferral = get_object_or_404(scope_to_hospitals(Deferral.objects.all(), request.user), pk=deferral_id)
    return Response(DeferralSerializer(services.deferral_lift(deferral=deferral, by=request.user)).data)
