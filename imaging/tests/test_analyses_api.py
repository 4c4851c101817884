"""The seed's imaging API through HTTP: predictions with Grad-CAM, bad input as clear 400s, modality
checks, de-identified DICOM, confirmation, scoping, and exactly-once runs."""

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.db import connection
from PIL import Image
from pydicom.data import get_testdata_file

from imaging import analyses
from imaging.models import ImageAnalysis
from imaging.tests.images import typical_png

pytestmark = pytest.mark.django_db(transaction=True)
DATASET = "pneumoniamnist"


def png(size=28, seed=0) -> bytes:
    """A picture that passes the appearance checks of the pneumoniamnist model (imaging.suitability)."""
    return typical_png(size=size, seed=seed)


def upload(name: str, data: bytes):
    file = io.BytesIO(data)
    file.name = name
    return file


def predict(client, *files, **fields):
    return client.post(
        "/api/predict", {"dataset": DATASET, **fields, "image": [upload(n, d) for n, d in files]}, format="multipart"
    )


def test_datasets_and_models_list_the_committed_default(api, bob):
    client = api(bob)
    names = {row["name"]: row for row in client.get("/api/datasets").json()}
    assert "pneumonia" in " ".join(names[DATASET]["conditions"]).lower()
    assert any(model["active"] and model["architecture"] == "basic_cnn" for model in names[DATASET]["models"])
    models = client.get("/api/models").json()
    default = next(m for m in models if m["name"] == "pneumoniamnist-basic_cnn")
    assert default["version"] == 1 and default["active"] and "accuracy" in default["validation"]
    loaded = client.post("/api/load-model", {"dataset": DATASET, "model": "basic_cnn"}, format="json")
    assert loaded.status_code == 202 and loaded.json()["model"] == "pneumoniamnist-basic_cnn"


def test_predict_and_wait_gives_sorted_predictions_and_a_heatmap(api, bob):
    client = api(bob)
    response = predict(client, ("xray.png", png()), wait="true")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [p["class"] for p in body["predictions"]] and len(body["predictions"]) == 2
    probabilities = [p["probability"] for p in body["predictions"]]
    assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 1e-3
    site = "http://testserver/api/analyses/"  # absolute, as the request reached the server
    assert (body["gradcam_url"], body["image_url"]) == (
        f"{site}{body['analysis_id']}/gradcam.png",
        f"{site}{body['analysis_id']}/image",
    )
    heatmap = client.get(body["gradcam_url"])
    assert heatmap.status_code == 200 and heatmap["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(b"".join(heatmap.streaming_content))).size == (256, 256)
    analysis = ImageAnalysis.objects.get(pk=body["analysis_id"])
    assert (
        analysis.status == "done" and analysis.model.name == "pneumoniamnist-basic_cnn" and analysis.model.version == 1
    )
    assert analysis.inference_ms is not None and analysis.preprocessing_ms is not None and analysis.attempts == 1


def test_predict_without_waiting_is_202_and_batches_share_a_batch(api, bob):
    client = api(bob)
    single = predict(client, ("a.png", png(seed=1)))
    assert single.status_code == 202 and set(single.json()) == {"analysis_id", "status"}
    several = predict(client, ("a.png", png(seed=2)), ("b.png", png(seed=3)), ("c.png", png(seed=4)))
    assert several.status_code == 202
    ids = [row["analysis_id"] for row in several.json()["analyses"]]
    assert len(ids) == 3 and ImageAnalysis.objects.filter(pk__in=ids).values("batch").distinct().count() == 1
    listed = client.get("/api/analyses", {"batch": several.json()["batch"]}).json()
    assert listed["count"] == 3 and {row["status"] for row in listed["results"]} == {"done"}


def _huge_png() -> bytes:
    """A valid PNG header declaring 100000 x 100000 pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "files, fields, code",
    [
        ([], {}, "no_image"),
        ([("x.png", png())], {"dataset": "no-such-set"}, "unknown_dataset"),
        ([("x.png", png())], {"model": "transformer"}, "unknown_model"),
        ([("notes.png", b"This is a text file, not an image at all." * 5)], {}, "unsupported_type"),
        (
            [("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')],
            {},
            "unsupported_type",
        ),
        ([("cut.png", png()[:60])], {}, "corrupt_image"),
        ([("bomb.png", _huge_png())], {}, "image_too_large"),
        ([("empty.png", b"")], {}, "empty_image"),
    ],
)
def test_bad_input_is_a_clear_400_and_nothing_is_queued(api, bob, files, fields, code):
    response = predict(api(bob), *files, **fields)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert ImageAnalysis.objects.count() == 0


def test_dicom_without_pixel_data_and_oversized_uploads_are_400(api, bob, settings):
    client = api(bob)
    rtplan = open(get_testdata_file("rtplan.dcm"), "rb").read()
    assert predict(client, ("plan.dcm", rtplan)).json()["error"]["code"] == "no_pixel_data"
    settings.HEALTHSYNC_MAX_UPLOAD_MB = 0
    assert predict(client, ("x.png", png())).json()["error"]["code"] == "image_too_large"


def test_a_ct_study_sent_to_a_chest_xray_model_is_refused(api, bob):
    ct = open(get_testdata_file("CT_small.dcm"), "rb").read()
    response = predict(api(bob), ("ct.dcm", ct))
    assert response.status_code == 400 and response.json()["error"]["code"] == "modality_mismatch"
    assert "CT" in response.json()["error"]["message"]


def test_a_mixed_batch_with_one_bad_file_queues_nothing(api, bob):
    response = predict(api(bob), ("good.png", png()), ("bad.png", b"garbage" * 30))
    assert response.status_code == 400 and ImageAnalysis.objects.count() == 0


def test_confirmation_and_scoping(api, bob, carol):
    analysis_id = predict(api(bob), ("x.png", png()), wait="1").json()["analysis_id"]
    client = api(bob)
    assert (
        client.post(f"/api/analyses/{analysis_id}/confirm", {"confirmation": "disagrees"}, format="json").status_code
        == 400
    )
    predicted = ImageAnalysis.objects.get(pk=analysis_id).predicted_class
    other = "normal" if predicted == "pneumonia" else "pneumonia"
    confirmed = client.post(
        f"/api/analyses/{analysis_id}/confirm", {"confirmation": "disagrees", "true_finding": other}, format="json"
    )
    assert (
        confirmed.status_code == 200
        and confirmed.json()["true_finding"] == other
        and confirmed.json()["confirmation"] == "disagrees"
    )
    for path in (
        f"/api/analyses/{analysis_id}",
        f"/api/analyses/{analysis_id}/gradcam.png",
        f"/api/analyses/{analysis_id}/image",
    ):
        assert api(carol).get(path).status_code == 404
    assert (
        api(carol).post(f"/api/analyses/{analysis_id}/confirm", {"confirmation": "agrees"}, format="json").status_code
        == 404
    )
    assert api(carol).get("/api/analyses").json()["count"] == 0


def test_a_redelivered_batch_never_gives_two_results_and_a_killer_image_ends_failed(api, bob):
    body = predict(api(bob), ("a.png", png(seed=5)), ("b.png", png(seed=6)), wait="1").json()
    ids = [row["analysis_id"] for row in body["analyses"]]
    assert analyses.analyses_run(analysis_ids=ids) == {"skipped": 2}  # done: a second delivery does nothing
    # A worker died during the batch: its rows are left running; the redelivery runs each on its own.
    ImageAnalysis.objects.filter(pk__in=ids).update(status="running", attempts=1, predictions=[], gradcam="")
    assert analyses.analyses_run(analysis_ids=ids) == {"done": 2}
    assert list(ImageAnalysis.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == [2, 2]
    # One image killed its worker on every attempt: after the last one it fails instead of looping.
    ImageAnalysis.objects.filter(pk=ids[0]).update(status="running", attempts=analyses.MAX_ATTEMPTS)
    assert analyses.analyses_run(analysis_ids=ids) == {"skipped": 2}
    failed = ImageAnalysis.objects.get(pk=ids[0])
    assert failed.status == "failed" and "stopped its worker" in failed.failure_reason
    assert ImageAnalysis.objects.get(pk=ids[1]).status == "done"


def test_a_batch_runs_in_one_pass_and_an_unreadable_stored_image_fails_alone(api, bob):
    from imaging.inference import predictor_for
    from ml_models.gradcam import heatmap

    client = api(bob)
    queued = predict(client, *[(f"{n}.png", png(seed=10 + n)) for n in range(4)]).json()
    ids = [row["analysis_id"] for row in queued["analyses"]]
    # In the test settings tasks run eagerly: the batch finished inside the request, in one pass.
    rows = list(ImageAnalysis.objects.filter(pk__in=ids).order_by("pk"))
    assert {row.status for row in rows} == {"done"} and {row.attempts for row in rows} == {1}
    assert len({row.started_at for row in rows}) == 1  # claimed together
    # The batched Grad-CAM is each image's own.
    predictor = predictor_for(rows[0].model)
    images = predictor.prepare([png(seed=10 + n) for n in range(4)])
    classes = [predictor.classes.index(row.predicted_class) for row in rows]
    for image, cam, class_index in zip(images, predictor.explainer.heatmaps(images, classes), classes, strict=True):
        assert np.allclose(cam, heatmap(predictor.model, image, class_index=class_index), atol=1e-4)

    # A stored image that can no longer be read fails on its own; the rest of its batch is analysed.
    again = predict(client, ("a.png", png(seed=20)), ("b.png", png(seed=21)), ("c.png", png(seed=22))).json()
    ids = [row["analysis_id"] for row in again["analyses"]]
    ImageAnalysis.objects.filter(pk__in=ids).update(status="queued", attempts=0, predictions=[], gradcam="")
    broken = ImageAnalysis.objects.get(pk=ids[1])
    broken.image.storage.delete(broken.image.name)
    broken.image.storage.save(broken.image.name, io.BytesIO(b"not an image any more"))
    assert analyses.analyses_run(analysis_ids=ids) == {"done": 2, "failed": 1}
    statuses = dict(ImageAnalysis.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert statuses == {ids[0]: "done", ids[1]: "failed", ids[2]: "done"}


@pytest.fixture
def any_modality_model(settings, tmp_path):
    """A tiny untrained model whose modality accepts any DICOM, registered as the data set's default."""
    from imaging.conftest import write_model
    from imaging.services import model_register
    from ml_models import cards

    directory = write_model(tmp_path / "models", name="anyset-basic_cnn", dataset="anyset")
    card = cards.read_card(directory)
    cards.write_card(directory, {**card, "modality": "unspecified"})
    settings.HEALTHSYNC_MODELS_DIR = str(tmp_path / "models")
    return model_register(directory=tmp_path / "models" / "anyset-basic_cnn" / "1", activate=True)


def _bundled_dicoms_with_pixels():
    from pydicom.data import get_testdata_files

    found = []
    for path in sorted(get_testdata_files("*.dcm")):
        try:
            if "PixelData" in pydicom.dcmread(path, stop_before_pixels=False, force=True):
                found.append(path)
        except Exception:  # unreadable headers still go through the API below
            found.append(path)
    return found


def test_every_bundled_dicom_with_pixels_is_analysed_or_clearly_refused(api, bob, any_modality_model):
    client = api(bob)
    outcomes = {}
    for path in _bundled_dicoms_with_pixels():
        data = open(path, "rb").read()
        if len(data) < 132 or data[128:132] != b"DICM":
            continue
        response = client.post(
            "/api/predict",
            {"dataset": "anyset", "wait": "1", "image": [upload(path.rsplit("/", 1)[-1], data)]},
            format="multipart",
        )
        assert response.status_code in (200, 400), (path, response.status_code, response.content[:300])
        if response.status_code == 200:
            assert response.json()["status"] == "done", (path, response.json())
        else:
            assert response.json()["error"]["message"]
        outcomes[path] = response.status_code
    assert list(outcomes.values()).count(200) >= 40


def test_stored_dicom_is_de_identified_and_identifiers_are_encrypted(api, bob, root, any_modality_model):
    original = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    assert str(original.PatientName)
    data = open(get_testdata_file("MR_small.dcm"), "rb").read()
    body = (
        api(bob)
        .post("/api/predict", {"dataset": "anyset", "wait": "1", "image": [upload("mr.dcm", data)]}, format="multipart")
        .json()
    )
    analysis = ImageAnalysis.objects.get(pk=body["analysis_id"])
    stored = pydicom.dcmread(analysis.image.path)
    # Table E.1-1: Patient ID is Z (kept, empty: it is Type 2); names are removed wherever they are.
    assert "PatientName" not in stored and stored.get("PatientID", "") == "" and stored.PatientIdentityRemoved == "YES"
    assert stored.StudyInstanceUID != original.StudyInstanceUID
    assert analysis.study_metadata["modality"] == "MR"
    with connection.cursor() as cursor:
        cursor.execute("SELECT patient_identifiers FROM imaging_imageanalysis WHERE id = %s", [analysis.pk])
        raw = cursor.fetchone()[0]
    assert str(original.PatientName) not in raw
    assert body["patient_identifiers"]["PatientName"] == str(original.PatientName)
    assert api(root).get(f"/api/analyses/{analysis.pk}").json()["patient_identifiers"] is None
    assert json.loads(analysis.patient_identifiers)["PatientID"] == str(original.PatientID)


def test_the_hand_built_representation_is_drfs_own(api, bob, root, any_modality_model):
    """AnalysisSerializer builds its rows directly, for speed: each field as DRF's generic walk gives it."""
    from rest_framework import serializers
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from imaging.api import AnalysisSerializer

    confirmed = predict(api(bob), ("x.png", png()), dataset="anyset", wait="1").json()["analysis_id"]
    api(bob).post(f"/api/analyses/{confirmed}/confirm", {"confirmation": "uncertain"}, format="json")
    dicom = open(get_testdata_file("MR_small.dcm"), "rb").read()
    with_identifiers = (
        api(bob)
        .post(
            "/api/predict", {"dataset": "anyset", "wait": "1", "image": [upload("mr.dcm", dicom)]}, format="multipart"
        )
        .json()["analysis_id"]
    )
    failed = predict(api(bob), ("y.png", png(seed=5)), dataset="anyset", wait="1").json()["analysis_id"]
    ImageAnalysis.objects.filter(pk=failed).update(
        status="failed", gradcam="", predictions=[], predicted_class="", failure_reason="Broken."
    )
    queued = predict(api(bob), ("z.png", png(seed=6)), dataset="anyset").json()["analysis_id"]
    ImageAnalysis.objects.filter(pk=queued).update(
        status="queued", started_at=None, finished_at=None, gradcam="", condition=None, findings=[]
    )
    rows = list(
        ImageAnalysis.objects.filter(pk__in=[confirmed, with_identifiers, failed, queued]).select_related(
            "model", "requested_condition"
        )
    )
    assert len(rows) == 4
    for user in (bob, root):
        request = Request(APIRequestFactory().get("/api/analyses"))
        request.user = user
        for row in rows:
            serializer = AnalysisSerializer(row, context={"request": request})
            assert serializer.data == serializers.ModelSerializer.to_representation(serializer, row)
    assert AnalysisSerializer(rows, many=True, context={"request": request}).data[0].keys() == set(
        AnalysisSerializer.Meta.fields
    )


def test_a_waited_answer_names_the_models_condition_as_stored(api, bob):
    client = api(bob)
    waited = predict(client, ("c.png", png(seed=42)), wait="1").json()
    assert waited["status"] == "done" and waited["condition"]
    assert client.get(f"/api/analyses/{waited['analysis_id']}").json() == waited


def test_a_waited_answer_is_what_the_api_reads_back_from_the_database(api, bob, any_modality_model, monkeypatch):
    """A waiting request re-reads only what a worker writes into the analyses it queued: its answer
    must be the stored analyses exactly, for a batch, a DICOM with identifiers, and a failure."""
    client = api(bob)
    dicom = Path(get_testdata_file("MR_small.dcm")).read_bytes()
    waited = client.post(
        "/api/predict",
        {"dataset": "anyset", "wait": "1", "image": [upload("a.png", png(seed=40)), upload("mr.dcm", dicom)]},
        format="multipart",
    ).json()
    assert [row["status"] for row in waited["analyses"]] == ["done", "done"]
    assert waited["analyses"][1]["patient_identifiers"]  # the member sees them
    for row in waited["analyses"]:
        assert client.get(f"/api/analyses/{row['analysis_id']}").json() == row

    def broken(*args, **kwargs):
        raise ValueError("unreadable tensor")

    monkeypatch.setattr(analyses, "_compute", broken)
    failed = predict(client, ("b.png", png(seed=41)), dataset="anyset", wait="1").json()
    assert failed["status"] == "failed" and "unreadable tensor" in failed["failure_reason"]
    assert client.get(f"/api/analyses/{failed['analysis_id']}").json() == failed


def test_wait_true_is_answered_at_once_when_this_process_has_no_place_left_to_wait(api, bob, settings):
    """Waiting requests hold server threads: past HEALTHSYNC_PREDICT_WAITERS they are answered 202
    at once (the analysis still queued), and a finished wait gives its place back."""
    settings.HEALTHSYNC_PREDICT_WAITERS = 1
    client = api(bob)
    places = analyses._waiting_slots_of_process()
    assert places.acquire(blocking=False)  # another request of this process is waiting
    try:
        crowded = predict(client, ("x.png", png(seed=50)), wait="true")
    finally:
        places.release()
    assert crowded.status_code == 202, crowded.content
    assert ImageAnalysis.objects.filter(pk=crowded.json()["analysis_id"]).exists()
    for seed in (51, 52):  # the place is free again after each wait
        waited = predict(client, ("y.png", png(seed=seed)), wait="true")
        assert waited.status_code == 200 and waited.json()["predictions"], waited.content


def test_the_requester_is_told_in_the_inbox_when_an_analysis_finishes(api, bob):
    from notifications.models import Notification

    analysis_id = predict(api(bob), ("x.png", png()), wait="1").json()["analysis_id"]
    note = Notification.objects.get(recipient=bob, alert__kind="analysis")
    assert note.alert.title.startswith(f"Analysis {analysis_id} done")


def test_a_batch_finishing_is_one_inbox_message(api, bob):
    from notifications.models import Notification

    body = predict(api(bob), *[(f"{n}.png", png(seed=30 + n)) for n in range(3)], wait="1").json()
    note = Notification.objects.get(recipient=bob, alert__kind="analysis")
    assert note.alert.title == "3 analyses finished: 3 done"
    assert "support, not replace" in note.alert.body and note.alert.link.endswith(f"?batch={body['batch']}")
    listed = api(bob).get("/api/analyses", {"batch": body["batch"]}).json()
    labels = [row["predicted_class"] for row in listed["results"]]
    assert all(f"{label} {labels.count(label)}" in note.alert.body for label in set(labels))


def test_a_batch_whose_message_was_lost_is_queued_again_by_the_sweep(api, bob, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from imaging import tasks

    lost = []
    monkeypatch.setattr(tasks.run_analysis, "delay", lambda **kwargs: lost.append(kwargs))  # the broker never got it
    ids = [
        row["analysis_id"]
        for row in predict(api(bob), ("a.png", png(seed=40)), ("b.png", png(seed=41))).json()["analyses"]
    ]
    assert lost == [{"analysis_ids": ids}] and set(
        ImageAnalysis.objects.filter(pk__in=ids).values_list("status", flat=True)
    ) == {"queued"}
    assert analyses.analyses_requeue_stale() == 0  # not stale yet: its message may still be on its way
    ImageAnalysis.objects.filter(pk__in=ids).update(
        submitted_at=timezone.now() - analyses.STALE_AFTER - timedelta(seconds=1)
    )
    monkeypatch.undo()
    assert tasks.requeue_stale_analyses() == 1  # in tests tasks run eagerly: the batch runs now
    assert set(ImageAnalysis.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"done"}
    assert analyses.analyses_requeue_stale() == 0


def test_a_batch_that_fails_to_save_leaves_no_files_behind(api, bob, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = str(tmp_path / "media")

    def refuse(*args, **kwargs):
        raise RuntimeError("the database refused the rows")

    monkeypatch.setattr(ImageAnalysis.objects, "bulk_create", refuse)
    response = predict(api(bob), ("a.png", png(seed=50)), ("b.png", png(seed=51)))
    assert response.status_code == 500 and response.json()["error"]["code"] == "server_error"
    assert ImageAnalysis.objects.count() == 0
    assert [path for path in (tmp_path / "media").rglob("*") if path.is_file()] == []


def test_results_that_fail_to_save_leave_no_overlays_behind(api, bob, settings, tmp_path, monkeypatch):
    from django.db import DatabaseError

    from imaging import tasks

    settings.MEDIA_ROOT = str(tmp_path / "media")
    monkeypatch.setattr(tasks.run_analysis, "delay", lambda **kwargs: None)  # run below, by hand
    ids = [
        row["analysis_id"]
        for row in predict(api(bob), ("a.png", png(seed=52)), ("b.png", png(seed=53))).json()["analyses"]
    ]

    def refuse(*args, **kwargs):
        raise DatabaseError("the database refused the results")

    monkeypatch.setattr(analyses, "_update_claimed", refuse)
    with pytest.raises(DatabaseError):
        analyses.analyses_run(analysis_ids=ids)
    assert set(ImageAnalysis.objects.filter(pk__in=ids).values_list("status", "gradcam")) == {("running", "")}
    assert list((tmp_path / "media").rglob("gradcam-*")) == []
    assert (
        len([path for path in (tmp_path / "media").rglob("*") if path.is_file()]) == 2
    )  # the uploads stay with their rows


def test_a_batch_summary_reads_its_analyses_in_one_query_whatever_their_number(api, bob):
    from django.test.utils import CaptureQueriesContext

    from notifications import services

    counts = []
    for size in (2, 5):
        ids = [
            row["analysis_id"]
            for row in predict(api(bob), *[(f"{n}.png", png(seed=60 + n)) for n in range(size)], wait="1").json()[
                "analyses"
            ]
        ]
        with CaptureQueriesContext(connection) as queries:
            (alert,) = services.analyses_finished(analysis_ids=ids)  # raised already (the task ran): read, then found
        assert alert.title == f"{size} analyses finished: {size} done"
        counts.append(len(queries))
        assert (
            "card" not in queries[0]["sql"] and "patient_identifiers" not in queries[0]["sql"]
        )  # only what the message says
    assert counts[0] == counts[1]
