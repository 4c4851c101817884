"""Audited imaging records (django-auditlog; HIPAA 45 CFR 164.312(b)).

* Model versions: which one is active, changed by ``services.model_activate`` and ``model_retire``.
* Analyses: the clinician's reading and every correction of it (saved through the ORM, so the audit
  middleware records who). Their submission is recorded by ``analyses_submit`` itself, one entry per
  analysis written with the batch in its transaction (the rows are inserted in bulk, which sends no
  signal); the results a worker writes are the model's output, kept on the row with their times.
"""

from auditlog.registry import auditlog

from .models import ImageAnalysis, MLModel

auditlog.register(MLModel, include_fields=["is_active"])
auditlog.register(ImageAnalysis, include_fields=["confirmation", "true_finding", "confirmed_by", "amended_at"])
