"""Staff endpoints: slots, appointments, the visit (screening, collection, markers, typing, release), donors
and deferrals; only hospital staff, rows through ``scope_to_hospitals``."""

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from bloodbank.api import UnitSerializer
from bloodbank.models import BloodGroup
from healthsync.api.pagination import paginated
from healthsync.params import whole_number
from healthsync.permissions import acting_hospital, scope_to_hospitals
from healthsync.regions import region_find
from healthsync.security import require_recent_login

from .. import selectors, services
from ..models import (
    AppointmentStatus,
    Deferral,
    Donation,
)
from .access import _paginated, staff_api
from .serializers import (
    ActingHospitalSerializer,
    CollectionSerializer,
    DeferralSerializer,
    MarkerResultSerializer,
    ScreeningSerializer,
    SlotSerializer,
    SlotUpdateSerializer,
    StaffAppointmentSerializer,
    StaffDonationSerializer,
    StaffDonorSerializer,
)


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
        hospital=hospital,
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        capacity=data["capacity"],
        donation_type=data["donation_type"],
        by=request.user,
    )
    return Response(
        SlotSerializer(selectors.slots_for_staff(user=request.user).get(pk=slot.pk)).data,
        status=status.HTTP_201_CREATED,
    )


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


@extend_schema(
    parameters=[OpenApiParameter("status", str, enum=AppointmentStatus.values), OpenApiParameter("slot", int)],
    responses=paginated(StaffAppointmentSerializer),
)
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


@extend_schema(
    parameters=[OpenApiParameter("status", str), OpenApiParameter("date", str)],
    responses=paginated(StaffDonationSerializer),
    operation_id="blood_bank_staff_donations_list",
)
@staff_api(["GET"])
def staff_donations(request):
    """Visits at the user's hospitals; filter by `status` and `date` (visit date)."""
    donations = (
        selectors.donations_for_staff(user=request.user).prefetch_related("test_results").select_related("screening")
    )
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
    return Response(
        {"din": units[0].din, "din_display": units[0].din_display, "units": UnitSerializer(units, many=True).data},
        status=status.HTTP_201_CREATED,
    )


@extend_schema(request=MarkerResultSerializer, responses={201: StaffDonationSerializer})
@staff_api(["POST"])
def staff_test_result(request, donation_id):
    """Record an infection-marker result under a managed marker name (else 400 `unknown_marker`); a positive one
    discards the units with the reason and defers the donor, so it needs a recent login
    (403 `reauthentication_required`)."""
    require_recent_login(request)
    donation = _own_donation(request, donation_id)
    serializer = MarkerResultSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    services.marker_result_record(donation=donation, by=request.user, **serializer.validated_data)
    return Response(StaffDonationSerializer(_own_donation(request, donation_id)).data, status=status.HTTP_201_CREATED)


@extend_schema(
    request=inline_serializer("Typing", {"blood_group": serializers.ChoiceField(choices=BloodGroup.choices)}),
    responses=StaffDonationSerializer,
)
@staff_api(["POST"])
def staff_typing(request, donation_id):
    """Record the laboratory ABO/RhD typing: it confirms the donor's group and labels the quarantined units."""
    donation = services.typing_confirm(
        donation=_own_donation(request, donation_id),
        blood_group=str(request.data.get("blood_group", "")),
        by=request.user,
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


@extend_schema(
    parameters=[OpenApiParameter("q", str), OpenApiParameter("blood_group", str), OpenApiParameter("region", str)],
    responses=paginated(StaffDonorSerializer),
)
@staff_api(["GET"])
def staff_donors(request):
    """Donors who visited or booked at the user's hospitals, with their eligibility now; search by
    name/email, group, region."""
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
        donor=donor,
        reason=data["reason"],
        starts_on=data["starts_on"],
        ends_on=data.get("ends_on"),
        hospital=acting_hospital(request.user, acting.validated_data.get("hospital")),
        by=request.user,
    )
    return Response(DeferralSerializer(deferral).data, status=status.HTTP_201_CREATED)


@extend_schema(request=None, responses=DeferralSerializer)
@staff_api(["POST"])
def staff_deferral_lift(request, deferral_id):
    deferral = get_object_or_404(scope_to_hospitals(Deferral.objects.all(), request.user), pk=deferral_id)
    return Response(DeferralSerializer(services.deferral_lift(deferral=deferral, by=request.user)).data)
