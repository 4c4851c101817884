"""The model registry and the condition catalogue.

An ``MLModel`` row is one trained version of a named model (``pneumoniamnist-basic_cnn``), backed
by a directory holding ``model.keras`` and its ``card.json``. One version per name is active.
``Condition`` rows are the diagnoses HealthSync knows about, linked to the data sets and models
that cover them; a condition with no model is shown as "no model yet".
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.text import slugify

from healthsync.fields import PersonalCharField, PersonalTextField


class Dataset(models.Model):
    """A labelled image collection models are trained on (a folder of ``HEALTHSYNC_DATASETS_DIR``)."""

    name = models.SlugField(max_length=100, unique=True)
    title = models.CharField(max_length=200)
    modality = models.CharField(max_length=100)
    license = models.CharField(max_length=200)
    redistributable_weights = models.BooleanField(
        default=False, help_text="Whether weights trained on it may be committed and shipped."
    )
    citation = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Condition(models.Model):
    name = models.CharField(max_length=150, unique=True)
    code = models.SlugField(
        max_length=80, unique=True, help_text="Stable short name for API clients: pneumonia, brain-tumour-glioma."
    )
    specialty = models.CharField(max_length=100)
    modalities = models.CharField(max_length=200, help_text="Imaging used to diagnose it, comma-separated.")
    description = models.TextField(blank=True)
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="conditions")

    class Meta:
        ordering = ["specialty", "name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.code:
            self.code = condition_code(self.name)
        super().save(*args, **kwargs)


def condition_code(name: str) -> str:
    """``Brain tumour: glioma`` -> ``brain-tumour-glioma``."""
    return slugify(name.replace(":", " ").replace("'", ""))[:80]


class MLModel(models.Model):
    name = models.CharField(max_length=150, help_text="Data set and architecture, e.g. pneumoniamnist-basic_cnn.")
    version = models.PositiveIntegerField()
    dataset = models.CharField(max_length=200, help_text="The data set folder name (or path) it was trained on.")
    conditions = models.ManyToManyField(Condition, blank=True, related_name="models")
    modality = models.CharField(max_length=100)
    architecture = models.CharField(max_length=50)
    classes = models.JSONField(default=list)
    input_shape = models.JSONField(default=list)
    metrics = models.JSONField(default=dict, blank=True, help_text="Validation metrics with 95% confidence intervals.")
    artifact_path = models.CharField(
        max_length=500, help_text="The model directory, relative to HEALTHSYNC_MODELS_DIR."
    )
    card = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "-version"]
        verbose_name = "ML model"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="imaging_mlmodel_name_version"),
            models.UniqueConstraint(fields=["name"], condition=Q(is_active=True), name="imaging_mlmodel_one_active"),
        ]

    def __str__(self):
        return f"{self.name}:{self.version}{' (active)' if self.is_active else ''}"


class AnalysisStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Confirmation(models.TextChoices):
    AGREES = "agrees", "Agrees"
    DISAGREES = "disagrees", "Disagrees"
    UNCERTAIN = "uncertain", "Uncertain"


def _study_path(analysis, filename):
    return f"studies/{analysis.hospital_id}/{analysis.batch}/{filename}"


class ImageAnalysis(models.Model):
    """One image sent to one model version: queued, run by a worker in order of submission, kept with its result."""

    hospital = models.ForeignKey("healthsync.Hospital", on_delete=models.PROTECT, related_name="image_analyses")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="image_analyses"
    )
    batch = models.UUIDField(db_index=True, help_text="Images submitted together share a batch.")
    dataset = models.CharField(max_length=100)
    requested_condition = models.ForeignKey(
        Condition,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requested_analyses",
        help_text="The condition staff asked about, when they named one.",
    )
    condition = models.ForeignKey(
        Condition,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="analyses",
        help_text="The condition of the predicted class (the main finding); empty for no finding.",
    )
    findings = models.JSONField(
        default=list, blank=True, help_text="[{class, condition, code, probability}] of every finding, main first."
    )
    warnings = models.JSONField(
        default=list, blank=True, help_text="[{code, message}]: checks staff overrode (force) to analyse anyway."
    )
    model = models.ForeignKey(
        MLModel, on_delete=models.PROTECT, related_name="analyses", help_text="The exact model version used."
    )
    image = models.FileField(
        upload_to=_study_path, max_length=300, help_text="The upload as kept: PNG/JPEG as sent, DICOM de-identified."
    )
    image_kind = models.CharField(max_length=5)
    original_name = PersonalCharField(help_text="The file name as uploaded (it often names the patient), encrypted.")
    study_metadata = models.JSONField(
        default=dict, blank=True, help_text="DICOM modality, body part, (replaced) study and series UIDs, size."
    )
    patient_identifiers = PersonalTextField(help_text="The DICOM's original identifiers (JSON), encrypted.")
    patient_reference = PersonalCharField(blank=True, help_text="The hospital's patient reference (MRN), encrypted.")
    accession_number = PersonalCharField(blank=True, help_text="The study's accession number, encrypted.")
    patient_digest = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Keyed digest of the patient reference, for search."
    )
    accession_digest = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Keyed digest of the accession number, for search."
    )
    status = models.CharField(
        max_length=8, choices=AnalysisStatus.choices, default=AnalysisStatus.QUEUED, db_index=True
    )
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    predictions = models.JSONField(default=list, blank=True, help_text="[{class, probability}], most probable first.")
    predicted_class = models.CharField(max_length=100, blank=True)
    gradcam = models.FileField(upload_to=_study_path, max_length=300, blank=True)
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    queue_wait_ms = models.FloatField(null=True, blank=True)
    preprocessing_ms = models.FloatField(null=True, blank=True)
    inference_ms = models.FloatField(null=True, blank=True)
    gradcam_ms = models.FloatField(null=True, blank=True)
    confirmation = models.CharField(max_length=10, choices=Confirmation.choices, blank=True)
    true_finding = models.CharField(max_length=100, blank=True, help_text="The clinician's finding when it differs.")
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    amended_at = models.DateTimeField(null=True, blank=True, help_text="When a recorded reading was last changed.")

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name_plural = "image analyses"
        indexes = [models.Index(fields=["hospital", "status", "submitted_at"], name="analysis_queue_idx")]

    def __str__(self):
        return f"Analysis {self.pk}: {self.image_kind} with {self.model} ({self.status})"
