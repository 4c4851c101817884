"""Imaging that is safe to use: conditions by name, the right model for the image, findings by class."""

import io

import numpy as np
import pytest
from django.db import connection
from PIL import Image

from imaging.models import ImageAnalysis
from imaging.tests.images import typical_png

pytestmark = pytest.mark.django_db(transaction=True)


def upload(name: str, data: bytes):
    file = io.BytesIO(data)
    file.name = name
    return file


def png_of(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_catalogue_is_readable_by_every_staff_role(api, alice, bob, root, dave):
    for user in (alice, bob, root):
        response = api(user).get("/api/conditions")
        assert response.status_code == 200
        rows = {row["code"]: row for row in response.json()}
        assert len(rows) >= 50
        assert rows["pneumonia"]["status"] == "ready" and rows["pneumonia"]["models"][0]["default"] is True
        assert rows["glaucoma"]["status"] == "no model yet" and rows["glaucoma"]["models"] == []
    assert api(dave).get("/api/conditions").status_code == 403
    one = api(bob).get("/api/conditions/Brain tumour: glioma").json()
    assert one["code"] == "brain-tumour-glioma" and one["specialty"] == "Neurology"


def test_predict_by_condition_name_or_code_picks_its_default(api, bob):
    client = api(bob)
    for reference in ("pneumonia", "Pneumonia"):
        body = client.post(
            "/api/predict",
            {"condition": reference, "wait": "1", "image": [upload("c.png", typical_png())]},
            format="multipart",
        ).json()
        assert body["status"] == "done" and body["requested_condition"] == "Pneumonia"
        assert body["model"]["name"] in {"pneumoniamnist-basic_cnn", "chest_xray_pneumonia_224-basic_cnn"}
    legacy = client.post(
        "/api/predict", {"dataset": "Pneumonia", "image": [upload("c.png", typical_png())]}, format="multipart"
    )
    assert legacy.status_code == 202, legacy.content


def test_a_model_of_another_data_set_or_condition_is_refused(api, bob):
    client = api(bob)
    for fields in (
        {"dataset": "chest_xray_pneumonia_224", "model": "breastmnist-basic_cnn"},
        {"condition": "pneumonia", "model": "breastmnist-basic_cnn"},
    ):
        response = client.post(
            "/api/predict", {**fields, "image": [upload("c.png", typical_png())]}, format="multipart"
        )
        assert response.status_code == 400 and response.json()["error"]["code"] == "model_mismatch", response.content
    assert not ImageAnalysis.objects.exists()


@pytest.mark.parametrize(
    "pixels, code",
    [
        (np.full((64, 64), 128), "image_uninformative"),
        (
            np.dstack([np.full((64, 64), 200), np.tile(np.arange(64) * 3, (64, 1)), np.zeros((64, 64))]),
            "modality_mismatch",
        ),
        (np.random.default_rng(0).integers(0, 256, (64, 64)), "modality_mismatch"),
    ],
)
def test_images_unlike_the_models_are_refused_with_their_reason(api, bob, pixels, code):
    response = api(bob).post(
        "/api/predict", {"condition": "pneumonia", "image": [upload("x.png", png_of(pixels))]}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == code, response.content
    assert not ImageAnalysis.objects.exists()


def test_a_grayscale_image_is_refused_by_a_colour_model_unless_forced_then_warned(api, bob):
    client = api(bob)
    fields = {"dataset": "retinamnist", "image": [upload("g.png", typical_png())]}
    refused = client.post("/api/predict", fields, format="multipart")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "modality_mismatch"
    forced = client.post(
        "/api/predict",
        {**fields, "image": [upload("g.png", typical_png())], "force": "true", "wait": "1"},
        format="multipart",
    ).json()
    assert forced["status"] == "done" and forced["warnings"][0]["code"] == "modality_mismatch"
    report = client.get(f"/fhir/DiagnosticReport/{forced['analysis_id']}").json()
    assert "WARNING" in report["conclusion"] and any(e["url"].endswith("analysis-warning") for e in report["extension"])


def test_uninformative_images_cannot_be_forced(api, bob):
    response = api(bob).post(
        "/api/predict",
        {"condition": "pneumonia", "force": "1", "image": [upload("x.png", png_of(np.zeros((28, 28))))]},
        format="multipart",
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "image_uninformative"


def test_findings_follow_the_predicted_class_and_fhir_follows_the_reading(api, bob):
    client = api(bob)
    body = client.post(
        "/api/predict",
        {"dataset": "pneumoniamnist", "wait": "1", "image": [upload("c.png", typical_png())]},
        format="multipart",
    ).json()
    expected = "Pneumonia" if body["predicted_class"] == "pneumonia" else None
    assert body["condition"] == expected
    assert [finding["condition"] for finding in body["findings"]] == ([expected] if expected else [])
    url = f"/fhir/DiagnosticReport/{body['analysis_id']}"
    assert client.get(url).json()["status"] == "preliminary"
    client.post(f"/api/analyses/{body['analysis_id']}/confirm", {"confirmation": "agrees"}, format="json")
    final = client.get(url).json()
    assert final["status"] == "final" and final["resultsInterpreter"][0]["display"] == bob.name
    client.post(f"/api/analyses/{body['analysis_id']}/confirm", {"confirmation": "uncertain"}, format="json")
    assert client.get(url).json()["status"] == "amended"


def test_patient_context_is_encrypted_searchable_and_only_for_own_staff(api, bob, carol, root):
    client = api(bob)
    body = client.post(
        "/api/predict",
        {
            "dataset": "pneumoniamnist",
            "patient_reference": "MRN-4711",
            "accession_number": "ACC 99",
            "wait": "1",
            "image": [upload("c.png", typical_png())],
        },
        format="multipart",
    ).json()
    assert body["patient_reference"] == "MRN-4711" and body["accession_number"] == "ACC 99"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT patient_reference, accession_number FROM imaging_imageanalysis WHERE id = %s", [body["analysis_id"]]
        )
        stored = cursor.fetchone()
    assert "MRN-4711" not in str(stored) and "ACC 99" not in str(stored)
    assert [row["analysis_id"] for row in client.get("/api/analyses?patient_reference=mrn-4711").json()["results"]] == [
        body["analysis_id"]
    ]
    assert client.get("/api/analyses?accession_number=ACC99").json()["count"] == 1
    assert client.get("/api/analyses?patient_reference=MRN-0000").json()["count"] == 0
    assert api(root).get(f"/api/analyses/{body['analysis_id']}").json()["patient_reference"] is None
    report = client.get(f"/fhir/DiagnosticReport/{body['analysis_id']}").json()
    assert report["subject"]["identifier"]["value"] == "MRN-4711" and report["identifier"][0]["value"] == "ACC 99"


def test_model_all_runs_every_model_of_the_condition_as_one_batch(api, bob):
    body = (
        api(bob)
        .post(
            "/api/predict",
            {"condition": "pneumonia", "model": "all", "wait": "1", "image": [upload("c.png", typical_png())]},
            format="multipart",
        )
        .json()
    )
    names = {row["model"]["name"] for row in body["analyses"]}
    assert names == {"pneumoniamnist-basic_cnn", "chest_xray_pneumonia_224-basic_cnn"}
    assert {row["status"] for row in body["analyses"]} == {"done"}
    assert len({row["batch"] for row in body["analyses"]}) == 1


def test_fhir_content_negotiation(api, bob):
    client = api(bob)
    assert client.get("/fhir/ServiceRequest", HTTP_ACCEPT="application/json").status_code == 200
    assert client.get("/fhir/ServiceRequest", HTTP_ACCEPT="application/json")["Content-Type"].startswith(
        "application/json"
    )
    assert client.get("/fhir/ServiceRequest?_format=json", HTTP_ACCEPT="text/html").status_code == 200
    assert client.get("/fhir/ServiceRequest", HTTP_ACCEPT="application/xml").status_code == 406
    assert client.get("/fhir/ServiceRequest?_format=xml").status_code == 406


def test_an_image_unlike_a_models_training_images_is_not_recognised(api, bob, tmp_path, settings):
    """A model whose kind the recogniser does not know is guarded by its own profile alone."""
    from imaging.conftest import write_model
    from imaging.services import model_register
    from imaging.tests.images import typical_pixels
    from ml_models import appearance
    from ml_models.preprocessing import PreprocessingSpec, prepare_batch

    directory = write_model(tmp_path / "models", name="otherset-basic_cnn", dataset="otherset")
    spec = PreprocessingSpec(image_size=28, channels=1)
    appearance.fit(
        prepare_batch([typical_pixels(seed=seed) for seed in range(200)], spec),
        prepare_batch([typical_pixels(seed=seed) for seed in range(200, 300)], spec),
    ).save(directory)
    settings.HEALTHSYNC_MODELS_DIR = str(tmp_path / "models")
    model_register(directory=directory, activate=True)
    client = api(bob)
    noise = np.random.default_rng(1).integers(0, 256, (28, 28))
    refused = client.post(
        "/api/predict", {"dataset": "otherset", "image": [upload("n.png", png_of(noise))]}, format="multipart"
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "image_not_recognised", refused.content
    accepted = client.post(
        "/api/predict", {"dataset": "otherset", "image": [upload("t.png", typical_png(seed=400))]}, format="multipart"
    )
    assert accepted.status_code == 202, accepted.content


@pytest.mark.parametrize(
    "label, finding",
    [
        ("glioma", "Brain tumour: glioma"),
        ("meningioma", "Brain tumour: meningioma"),
        ("pituitary", "Brain tumour: pituitary adenoma"),
        ("notumor", None),
    ],
)
def test_a_brain_mri_is_labelled_by_its_predicted_class(label, finding):
    from imaging.analyses import _findings
    from imaging.models import Condition
    from ml_models.predictor import Prediction

    conditions = {name: (pk, code) for pk, name, code in Condition.objects.values_list("pk", "name", "code")}
    classes = ("glioma", "meningioma", "notumor", "pituitary")
    prediction = Prediction(
        label=label,
        class_index=classes.index(label),
        confidence=0.7,
        probabilities={name: (0.7 if name == label else 0.1) for name in classes},
    )
    condition_id, findings = _findings(ImageAnalysis(dataset="brain_mri_4class"), prediction, conditions)
    if finding is None:
        assert condition_id is None and findings == []
    else:
        assert Condition.objects.get(pk=condition_id).name == finding
        assert findings == [{"class": label, "condition": finding, "code": conditions[finding][1], "probability": 0.7}]


def test_original_file_names_are_encrypted_and_only_for_own_staff(api, bob, root):
    client = api(bob)
    body = client.post(
        "/api/predict",
        {"dataset": "pneumoniamnist", "wait": "1", "image": [upload("Doe_Jane_MRN-123456.png", typical_png())]},
        format="multipart",
    ).json()
    assert body["original_name"] == "Doe_Jane_MRN-123456.png"
    with connection.cursor() as cursor:
        cursor.execute("SELECT original_name FROM imaging_imageanalysis WHERE id = %s", [body["analysis_id"]])
        assert "Doe_Jane" not in str(cursor.fetchone())
    assert api(root).get(f"/api/analyses/{body['analysis_id']}").json()["original_name"] is None
    from django.test import Client

    from conftest import PASSWORD

    console = Client()
    console.login(email=root.email, password=PASSWORD)
    for url in (
        "/admin/imaging/analyse/",
        f"/admin/imaging/analyses/{body['analysis_id']}/",
        "/admin/imaging/imageanalysis/",
    ):
        page = console.get(url)
        assert page.status_code == 200 and b"Doe_Jane" not in page.content, url
    from notifications.models import Alert

    assert (
        Alert.objects.filter(kind="analysis").exists() and not Alert.objects.filter(body__contains="Doe_Jane").exists()
    )


def test_platform_administrators_activate_and_retire_models_through_the_api(api, bob, root, settings):
    from auditlog.models import LogEntry

    from imaging.models import MLModel

    model = MLModel.objects.get(name="pneumoniamnist-basic_cnn", is_active=True)
    assert api(bob).post(f"/api/models/{model.pk}/retire").status_code == 404  # not a platform administrator
    client = api(root)
    retired = client.post(f"/api/models/{model.pk}/retire")
    assert retired.status_code == 200 and retired.json()["active"] is False and "validation" in retired.json()
    assert "external" in retired.json()
    assert client.post(f"/api/models/{model.pk}/activate").json()["active"] is True
    changes = [entry.changes for entry in LogEntry.objects.get_for_object(model).order_by("timestamp")]
    assert [change["is_active"] for change in changes][-2:] == [["True", "False"], ["False", "True"]]
    settings.HEALTHSYNC_REAUTH_MINUTES = 0  # the token's login is now too old
    stale = client.post(f"/api/models/{model.pk}/retire")
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "reauthentication_required"


def test_submissions_and_readings_are_audited(api, bob):
    from auditlog.models import LogEntry

    client = api(bob)
    body = client.post(
        "/api/predict",
        {"dataset": "pneumoniamnist", "wait": "1", "image": [upload("c.png", typical_png())]},
        format="multipart",
    ).json()
    analysis = ImageAnalysis.objects.get(pk=body["analysis_id"])
    client.post(f"/api/analyses/{analysis.pk}/confirm", {"confirmation": "agrees"}, format="json")
    client.post(f"/api/analyses/{analysis.pk}/confirm", {"confirmation": "uncertain"}, format="json")
    entries = list(LogEntry.objects.get_for_object(analysis).order_by("timestamp", "pk"))
    assert entries[0].action == LogEntry.Action.CREATE and entries[0].actor == bob
    assert entries[0].changes["model"] == [None, f"{analysis.model.name}:{analysis.model.version}"]
    readings = [entry.changes["confirmation"][1] for entry in entries[1:] if "confirmation" in entry.changes]
    assert readings == ["agrees", "uncertain"] and all(entry.actor == bob for entry in entries[1:])


def test_every_staff_role_browses_the_catalogue_in_the_console_read_only(bob):
    from django.test import Client

    from conftest import PASSWORD

    client = Client()
    client.login(email=bob.email, password=PASSWORD)
    page = client.get("/admin/imaging/condition/")
    assert page.status_code == 200 and b"brain-tumour-glioma" in page.content
    assert client.get("/admin/imaging/condition/add/").status_code == 403
    assert client.get("/admin/imaging/mlmodel/").status_code == 200


def test_a_deeply_nested_reading_is_a_400(api, bob):
    from healthsync.api.parsers import MAX_DEPTH

    client = api(bob)
    body = client.post(
        "/api/predict",
        {"dataset": "pneumoniamnist", "wait": "1", "image": [upload("c.png", typical_png())]},
        format="multipart",
    ).json()
    nested = '{"confirmation": "agrees", "x": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"
    response = client.post(f"/api/analyses/{body['analysis_id']}/confirm", nested, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
