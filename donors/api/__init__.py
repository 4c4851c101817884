"""Donor API under /api/blood-bank/: the seed's donor endpoints, the donor's own pages, and staff endpoints.

Donor endpoints answer only donors (their own profile: ``selectors.donor_of``); staff endpoints
answer only hospital staff (403 for donors) and reach rows through ``scope_to_hospitals``.

By section: ``serializers``, ``access``, ``seed`` (the seed's endpoints), ``donor`` (the donor's own),
``staff``. ``urls.py`` takes the views from here.
"""

from .access import (
    staff_api,
)
from .donor import (
    donor_appointment_cancel,
    donor_appointments,
    donor_eligibility,
    donor_profile,
    slots_free,
)
from .seed import (
    DonorLoginView,
    DonorRegisterView,
    donor_donate,
    donor_history,
)
from .serializers import (
    ActingHospitalSerializer,
    AppointmentSerializer,
    BookingSerializer,
    CollectionSerializer,
    DeferralSerializer,
    DonateSerializer,
    DonationSerializer,
    DonorProfileSerializer,
    DonorRegisterSerializer,
    EligibilityQuery,
    MarkerResultSerializer,
    ScreeningSerializer,
    SlotSerializer,
    SlotUpdateSerializer,
    StaffAppointmentSerializer,
    StaffDonationSerializer,
    StaffDonorSerializer,
)
from .staff import (
    APPOINTMENT_STEPS,
    staff_appointment_step,
    staff_appointments,
    staff_collection,
    staff_deferral_lift,
    staff_donation,
    staff_donation_cancel,
    staff_donations,
    staff_donor_deferrals,
    staff_donors,
    staff_release,
    staff_screening,
    staff_slot,
    staff_slots,
    staff_test_result,
    staff_typing,
)

__all__ = [
    "APPOINTMENT_STEPS",
    "ActingHospitalSerializer",
    "AppointmentSerializer",
    "BookingSerializer",
    "CollectionSerializer",
    "DeferralSerializer",
    "DonateSerializer",
    "DonationSerializer",
    "DonorLoginView",
    "DonorProfileSerializer",
    "DonorRegisterSerializer",
    "DonorRegisterView",
    "EligibilityQuery",
    "MarkerResultSerializer",
    "ScreeningSerializer",
    "SlotSerializer",
    "SlotUpdateSerializer",
    "StaffAppointmentSerializer",
    "StaffDonationSerializer",
    "StaffDonorSerializer",
    "donor_appointment_cancel",
    "donor_appointments",
    "donor_donate",
    "donor_eligibility",
    "donor_history",
    "donor_profile",
    "slots_free",
    "staff_api",
    "staff_appointment_step",
    "staff_appointments",
    "staff_collection",
    "staff_deferral_lift",
    "staff_donation",
    "staff_donation_cancel",
    "staff_donations",
    "staff_donor_deferrals",
    "staff_donors",
    "staff_release",
    "staff_screening",
    "staff_slot",
    "staff_slots",
    "staff_test_result",
    "staff_typing",
]
