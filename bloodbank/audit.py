from auditlog.registry import auditlog

from .models import Allocation, BloodRequest, BloodUnit, ParLevel, Transfer

auditlog.register(BloodUnit)
auditlog.register(BloodRequest, mask_fields=["patient_reference"])
auditlog.register(Allocation)
auditlog.register(Transfer, m2m_fields={"units"})
auditlog.register(ParLevel)
