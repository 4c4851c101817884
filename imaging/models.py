"""The model registry and the condition catalogue.

An ``MLModel`` row is one trained version of a named model (``pneumoniamnist-basic_cnn``), backed
by a directory holding ``model.keras`` and its ``card.json``. One version per name is active.
``Condition`` rows are the diagnoses HealthSync knows about, linked to the data sets and models
that cover them; a condition with no model is shown as "no model yet".
"""

from django.db import models
from django.db.models import Q


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
    specialty = models.CharField(max_length=100)
    modalities = models.CharField(max_length=200, help_text="Imaging used to diagnose it, comma-separated.")
    description = models.TextField(blank=True)
    datasets = models.ManyToManyField(Dataset, blank=True, related_name="conditions")

    class Meta:
        ordering = ["specialty", "name"]

    def __str__(self):
        return self.name


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
    artifact_path = models.CharField(max_length=500, help_text="The model directory, relative to HEALTHSYNC_MODELS_DIR.")
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
