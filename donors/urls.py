from django.urls import path

from . import api

urlpatterns = [
    # The seed's donor paths, kept for compatibility.
    path("donor/register", api.DonorRegisterView.as_view(), name="donor-register"),
    path("donor/login", api.DonorLoginView.as_view(), name="donor-login"),
    path("donor/donate", api.donor_donate, name="donor-donate"),
    path("donor/history", api.donor_history, name="donor-history"),
    # The donor's own pages.
    path("donor/profile", api.donor_profile, name="donor-profile"),
    path("donor/eligibility", api.donor_eligibility, name="donor-eligibility"),
    path("donor/appointments", api.donor_appointments, name="donor-appointments"),
    path("donor/appointments/<int:appointment_id>", api.donor_appointment_cancel, name="donor-appointment"),
    path("slots", api.slots_free, name="slots-free"),
    # Hospital staff.
    path("staff/slots/", api.staff_slots, name="staff-slots"),
    path("staff/slots/<int:slot_id>/", api.staff_slot, name="staff-slot"),
    path("staff/appointments/", api.staff_appointments, name="staff-appointments"),
    path(
        "staff/appointments/<int:appointment_id>/<str:step>", api.staff_appointment_step, name="staff-appointment-step"
    ),
    path("staff/donations/", api.staff_donations, name="staff-donations"),
    path("staff/donations/<int:donation_id>/", api.staff_donation, name="staff-donation"),
    path("staff/donations/<int:donation_id>/screening", api.staff_screening, name="staff-screening"),
    path("staff/donations/<int:donation_id>/collection", api.staff_collection, name="staff-collection"),
    path("staff/donations/<int:donation_id>/test-results", api.staff_test_result, name="staff-test-results"),
    path("staff/donations/<int:donation_id>/typing", api.staff_typing, name="staff-typing"),
    path("staff/donations/<int:donation_id>/release", api.staff_release, name="staff-release"),
    path("staff/donations/<int:donation_id>/cancel", api.staff_donation_cancel, name="staff-donation-cancel"),
    path("staff/donors/", api.staff_donors, name="staff-donors"),
    path("staff/donors/<int:donor_id>/deferrals", api.staff_donor_deferrals, name="staff-donor-deferrals"),
    path("staff/deferrals/<int:deferral_id>/lift", api.staff_deferral_lift, name="staff-deferral-lift"),
]
