"""Donor records in the audit trail (HIPAA 45 CFR 164.312(b)); personal fields are masked."""

from auditlog.registry import auditlog

from .models import Appointment, Deferral, Donation, DonationSlot, DonorProfile, MarkerResult, Screening

auditlog.register(DonorProfile, mask_fields=["date_of_birth", "contact_number", "address"])
auditlog.register(Deferral)
auditlog.register(DonationSlot)
auditlog.register(Appointment)
auditlog.register(Donation)
auditlog.register(Screening)
auditlog.register(MarkerResult)
