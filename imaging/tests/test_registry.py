"""Discovering models on disk, activating versions, resolving names, and the condition catalogue."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from imaging.conftest import write_model
from imaging.inference import diagnose, explain, predictor_for
from imaging.models import Condition, MLModel
from imaging.selectors import ModelNotFound, condition_catalogue, default_model_status, model_resolve
from imaging.services import model_activate, models_sync

pytestmark = pytest.mark.django_db


def test_sync_registers_every_model_on_disk_and_activates_one_version(models_root):
    write_model(models_root, version=1)
    write_model(models_root, version=2)
    write_model(models_root, name="pneumoniamnist-basic_cnn", dataset="pneumoniamnist")
    (models_root / "half-written" / "1").mkdir(parents=True)  # no model file: ignored
    registered = models_sync()
    assert sorted(str(model) for model in registered) == [
        "pneumoniamnist-basic_cnn:1 (active)",
        "tinyset-basic_cnn:1 (active)",
        "tinyset-basic_cnn:2",
    ]
    row = MLModel.objects.get(name="tinyset-basic_cnn", version=2)
    assert row.classes == ["normal", "pneumonia"] and row.input_shape == [28, 28, 1]
    assert row.artifact_path == "tinyset-basic_cnn/2" and row.architecture == "basic_cnn"
    # Pneumonia models are linked to the catalogue's pneumonia condition through their data set.
    assert list(MLModel.objects.get(name="pneumoniamnist-basic_cnn").conditions.values_list("name", flat=True)) == [
        "Pneumonia"
    ]
    assert len(models_sync()) == 3 and MLModel.objects.count() == 3  # idempotent


def test_activation_keeps_one_active_version_and_running_workers_follow_it(models_root):
    write_model(models_root, version=1, seed=1)
    write_model(models_root, version=2, seed=2)
    models_sync()
    first = model_resolve(reference="tinyset-basic_cnn")
    assert first.version == 1
    predictor_v1 = predictor_for(first)

    model_activate(model=MLModel.objects.get(name="tinyset-basic_cnn", version=2))
    assert MLModel.objects.filter(name="tinyset-basic_cnn", is_active=True).count() == 1
    # The next request in a running process resolves the new active version and loads it.
    served, predictions = diagnose(reference="tinyset-basic_cnn", pictures=[_png()])
    assert served.version == 2
    assert predictor_for(served) is not predictor_v1
    assert predictions[0].label in ("normal", "pneumonia")
    model, prediction, overlay = explain(reference="tinyset-basic_cnn", picture=_png())
    assert prediction.label == predictions[0].label and overlay.startswith(b"\x89PNG")

    with pytest.raises(IntegrityError), transaction.atomic():
        MLModel.objects.filter(name="tinyset-basic_cnn", version=1).update(is_active=True)


def test_resolve_by_name_version_and_data_set(models_root):
    write_model(models_root, name="pneumoniamnist-basic_cnn", dataset="pneumoniamnist")
    write_model(models_root, name="pneumoniamnist-resnet50", dataset="pneumoniamnist")
    models_sync()
    assert model_resolve(reference="pneumoniamnist-resnet50:1").name == "pneumoniamnist-resnet50"
    # A data set name means its catalogue default (the basic CNN for pneumoniamnist).
    assert model_resolve(reference="pneumoniamnist").name == "pneumoniamnist-basic_cnn"
    assert str(model_resolve(reference="pneumoniamnist:1")) == "pneumoniamnist-basic_cnn:1 (active)"
    with pytest.raises(ModelNotFound):
        model_resolve(reference="retinamnist")
    with pytest.raises(ModelNotFound):
        model_resolve(reference="pneumoniamnist-resnet50:9")


def test_default_status_lists_untrained_models(models_root):
    write_model(models_root, name="pneumoniamnist-basic_cnn", dataset="pneumoniamnist")
    models_sync()
    status = {row["name"]: row["status"] for row in default_model_status()}
    assert status["pneumoniamnist-basic_cnn"] == "ready"
    assert status["retinamnist-basic_cnn"] == "not trained yet: run make models"


def test_missing_files_deactivate_the_row(models_root):
    import shutil

    directory = write_model(models_root)
    models_sync()
    shutil.rmtree(directory)
    models_sync()
    assert not MLModel.objects.get(name="tinyset-basic_cnn").is_active


def test_evaluate_model_prints_one_json_object(models_root, tiny_npz):
    write_model(models_root, name="pneumoniamnist-basic_cnn", dataset="pneumoniamnist")
    models_sync()
    out = StringIO()
    call_command(
        "evaluate_model",
        "--model",
        "pneumoniamnist",
        "--dataset",
        str(tiny_npz),
        "--split",
        "test",
        "--json",
        stdout=out,
    )
    result = json.loads(out.getvalue())
    assert list(result) == [
        "model",
        "version",
        "dataset",
        "split",
        "n",
        "accuracy",
        "auc",
        "macro_f1",
        "per_class",
        "confusion_matrix",
    ]
    assert result["model"] == "pneumoniamnist-basic_cnn" and result["version"] == 1 and result["n"] == 8
    assert sum(map(sum, result["confusion_matrix"])) == 8
    assert set(result["per_class"]) == {"normal", "pneumonia"}


def test_condition_catalogue_is_seeded_with_coverage():
    assert Condition.objects.count() >= 50
    assert Condition.objects.values("specialty").distinct().count() >= 10
    coverage = {row["name"]: row for row in condition_catalogue()}
    assert coverage["Glaucoma"]["models"] == [] and coverage["Glaucoma"]["status"] == "no model yet"
    assert [dataset["name"] for dataset in coverage["Pneumonia"]["datasets"]] == [
        "chest_xray_pneumonia_224",
        "pneumoniamnist",
    ]
    modalities = " ".join(Condition.objects.values_list("modalities", flat=True))
    for modality in ("X-ray", "CT", "MRI", "ultrasound", "fundus", "dermoscopy", "histopathology", "OCT"):
        assert modality in modalities


def test_condition_and_model_admin_pages(admin_client, models_root):
    write_model(models_root, name="pneumoniamnist-basic_cnn", dataset="pneumoniamnist")
    models_sync()
    assert b"no model yet" in admin_client.get(reverse("admin:imaging_condition_changelist")).content
    response = admin_client.get(reverse("admin:imaging_mlmodel_changelist"))
    assert response.status_code == 200 and b"pneumoniamnist-basic_cnn" in response.content


def _png():
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((40, 40), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
