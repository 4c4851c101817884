"""Image analyses: submitting uploads, running them (the Celery task calls ``analysis_run``), confirming.

Running is exactly-once per analysis: the worker claims the row with a conditional UPDATE
(queued, or running after a worker died, with attempts left) and writes the result only if its
claim is still the latest, so a redelivered task never produces a second result; an image that
keeps killing its worker ends as failed after ``MAX_ATTEMPTS``.
"""

import json
import logging
import time
import uuid

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from PIL import Image

from healthsync.errors import Conflict, DomainError

from . import events
from .models import AnalysisStatus, Confirmation, ImageAnalysis, MLModel
from .selectors import ModelNotFound, model_resolve
from .uploads import check_modality, read_study

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
MAX_BATCH = 32
OVERLAY_SIZE = 256


def model_for(*, dataset: str, model: str | None) -> MLModel:
    """The model a request names: an architecture of the data set (``basic_cnn``), a model name
    (``pneumoniamnist-resnet50``, optionally ``:version``), or the data set's active default."""
    if not dataset:
        raise DomainError("Name the data set (condition) to analyse for.", fields={"dataset": ["Required."]})
    reference = dataset
    if model:
        reference = model if ("-" in model or ":" in model) else f"{dataset}-{model}"
    try:
        chosen = model_resolve(reference=reference)
    except ModelNotFound as exc:
        raise DomainError(f"{exc}.", code="unknown_model", fields={"model" if model else "dataset": [str(exc)]}) from None
    if chosen.dataset != dataset and not model:
        raise DomainError(f"Unknown data set {dataset!r}.", code="unknown_dataset", fields={"dataset": ["Unknown."]})
    return chosen


def analyses_submit(*, hospital, user, dataset: str, model: str | None, uploads: list[tuple[str, bytes]]) -> list[ImageAnalysis]:
    """Check every upload, then queue one analysis per image (all or none: one transaction)."""
    if not uploads:
        raise DomainError("Attach at least one image.", code="no_image", fields={"image": ["Required."]})
    if len(uploads) > MAX_BATCH:
        raise DomainError(f"At most {MAX_BATCH} images in one request.", fields={"image": [f"At most {MAX_BATCH}."]})
    chosen = model_for(dataset=dataset, model=model)
    studies = []
    for name, data in uploads:
        study = read_study(data, name=name or "image")
        check_modality(study, model_modality=chosen.modality, model_name=chosen.name)
        studies.append((name, study))
    batch = uuid.uuid4()
    condition = chosen.conditions.first()
    with transaction.atomic():
        created = []
        for name, study in studies:
            analysis = ImageAnalysis(
                hospital=hospital, requested_by=user, batch=batch, dataset=chosen.dataset, condition=condition, model=chosen,
                image_kind=study.kind, original_name=(name or "")[:255], study_metadata=study.metadata,
                patient_identifiers=json.dumps(study.identifiers) if study.identifiers else "",
            )
            extension = {"png": "png", "jpeg": "jpg", "dicom": "dcm"}[study.kind]
            analysis.image.save(f"{uuid.uuid4().hex}.{extension}", ContentFile(study.stored), save=False)
            analysis.save()
            created.append(analysis)
        transaction.on_commit(lambda: _enqueue([a.pk for a in created]))
        for analysis in created:
            events.publish(events.analysis_status_changed, analysis_id=analysis.pk, user_id=user.pk, status=AnalysisStatus.QUEUED)
    return created


def _enqueue(analysis_ids: list[int]) -> None:
    from .tasks import run_analysis

    for analysis_id in analysis_ids:  # one message each, in order of submission
        run_analysis.delay(analysis_id=analysis_id)


def _claim(analysis_id: int) -> int | None:
    """Take the analysis for this worker: returns the attempt number, or None when it is done,
    failed, or out of attempts (then it is marked failed)."""
    now = timezone.now()
    live = Q(status=AnalysisStatus.QUEUED) | Q(status=AnalysisStatus.RUNNING)
    claimed = ImageAnalysis.objects.filter(live, pk=analysis_id, attempts__lt=MAX_ATTEMPTS).update(
        status=AnalysisStatus.RUNNING, attempts=F("attempts") + 1, started_at=now
    )
    if claimed != 1:
        exhausted = ImageAnalysis.objects.filter(live, pk=analysis_id, attempts__gte=MAX_ATTEMPTS).update(
            status=AnalysisStatus.FAILED, finished_at=now,
            failure_reason=f"The analysis stopped its worker {MAX_ATTEMPTS} times; the image is not analysed.",
        )
        if exhausted:
            _announce(analysis_id, AnalysisStatus.FAILED)
        return None
    return ImageAnalysis.objects.values_list("attempts", flat=True).get(pk=analysis_id)


def _announce(analysis_id: int, status: str) -> None:
    user_id = ImageAnalysis.objects.values_list("requested_by_id", flat=True).get(pk=analysis_id)
    events.analysis_status_changed.send(sender="imaging", analysis_id=analysis_id, user_id=user_id, status=status)


def _overlay(pixels: np.ndarray, cam: np.ndarray) -> bytes:
    """The Grad-CAM heatmap over the study itself, at a size a person can read."""
    from ml_models.gradcam import overlay_png

    picture = Image.fromarray(pixels).convert("RGB").resize((OVERLAY_SIZE, OVERLAY_SIZE), Image.Resampling.BILINEAR)
    heat = Image.fromarray(np.asarray(cam, dtype=np.float32)).resize((OVERLAY_SIZE, OVERLAY_SIZE), Image.Resampling.BILINEAR)
    return overlay_png(np.asarray(picture, dtype=np.float32), np.clip(np.asarray(heat), 0.0, 1.0))


def analysis_run(*, analysis_id: int) -> str:
    """Run one queued analysis (called by the Celery task). Safe to call twice."""
    from ml_models.gradcam import heatmap
    from ml_models.preprocessing import read_image

    from .inference import predictor_for

    attempt = _claim(analysis_id)
    if attempt is None:
        return "skipped"
    analysis = ImageAnalysis.objects.select_related("model").get(pk=analysis_id)
    _announce(analysis_id, AnalysisStatus.RUNNING)
    try:
        predictor = predictor_for(analysis.model)  # loaded once per worker; not part of the timings
        started = time.perf_counter()
        with analysis.image.open("rb") as stored:
            pixels = read_image(stored.read())
        prepared = predictor.prepare([pixels])
        preprocessed = time.perf_counter()
        prediction = predictor.predictions(predictor.probabilities(prepared))[0]
        inferred = time.perf_counter()
        cam = heatmap(predictor.model, prepared[0], class_index=prediction.class_index)
        overlay = _overlay(pixels, cam)
        explained = time.perf_counter()
    except Exception as exc:  # a failure of this image, not of the worker: record it
        logger.exception("analysis %s failed", analysis_id)
        finished = ImageAnalysis.objects.filter(pk=analysis_id, status=AnalysisStatus.RUNNING, attempts=attempt).update(
            status=AnalysisStatus.FAILED, finished_at=timezone.now(), failure_reason=f"{exc.__class__.__name__}: {str(exc)[:500]}"
        )
        if finished:
            _announce(analysis_id, AnalysisStatus.FAILED)
        return "failed"
    predictions = sorted(
        ({"class": name, "probability": probability} for name, probability in prediction.probabilities.items()),
        key=lambda row: -row["probability"],
    )
    gradcam_name = analysis.gradcam.field.generate_filename(analysis, f"gradcam-{analysis.pk}-{attempt}.png")
    gradcam_name = analysis.gradcam.storage.save(gradcam_name, ContentFile(overlay))
    now = timezone.now()
    written = ImageAnalysis.objects.filter(pk=analysis_id, status=AnalysisStatus.RUNNING, attempts=attempt).update(
        status=AnalysisStatus.DONE, finished_at=now, predictions=predictions, predicted_class=prediction.label,
        gradcam=gradcam_name, failure_reason="",
        queue_wait_ms=(analysis.started_at - analysis.submitted_at).total_seconds() * 1000,
        preprocessing_ms=(preprocessed - started) * 1000, inference_ms=(inferred - preprocessed) * 1000,
        gradcam_ms=(explained - inferred) * 1000,
    )
    if written != 1:  # a later attempt took over: its result stands, not ours
        analysis.gradcam.storage.delete(gradcam_name)
        return "superseded"
    for earlier in range(1, attempt):  # overlays of attempts whose worker died before recording them
        stale = analysis.gradcam.field.generate_filename(analysis, f"gradcam-{analysis.pk}-{earlier}.png")
        if stale != gradcam_name and analysis.gradcam.storage.exists(stale):
            analysis.gradcam.storage.delete(stale)
    _announce(analysis_id, AnalysisStatus.DONE)
    return "done"


def analysis_confirm(*, analysis: ImageAnalysis, by, confirmation: str, true_finding: str = "") -> ImageAnalysis:
    """A clinician's reading of the result: agrees, disagrees (naming the true finding) or uncertain."""
    if confirmation not in Confirmation.values:
        raise DomainError(f"confirmation must be one of {', '.join(Confirmation.values)}.", fields={"confirmation": ["Invalid choice."]})
    if analysis.status != AnalysisStatus.DONE:
        raise Conflict("Only a finished analysis can be confirmed.", code="not_finished")
    if confirmation == Confirmation.DISAGREES:
        if true_finding not in analysis.model.classes:
            raise DomainError(
                f"Name the true finding, one of {', '.join(analysis.model.classes)}.",
                fields={"true_finding": [f"One of {', '.join(analysis.model.classes)}."]},
            )
        if true_finding == analysis.predicted_class:
            raise DomainError("The true finding is the predicted one: choose agrees.", fields={"true_finding": ["Same as predicted."]})
    with transaction.atomic():
        analysis = ImageAnalysis.objects.select_for_update().get(pk=analysis.pk)
        analysis.confirmation = confirmation
        analysis.true_finding = true_finding if confirmation == Confirmation.DISAGREES else ""
        analysis.confirmed_by, analysis.confirmed_at = by, timezone.now()
        analysis.save(update_fields=["confirmation", "true_finding", "confirmed_by", "confirmed_at"])
    return analysis


def analyses_waited(*, analyses: list[ImageAnalysis], timeout: float = 60.0) -> list[ImageAnalysis]:
    """Wait for ``analyses`` to finish (done or failed), up to ``timeout`` seconds; returns them fresh."""
    ids = [a.pk for a in analyses]
    deadline = time.monotonic() + timeout
    finished = (AnalysisStatus.DONE, AnalysisStatus.FAILED)
    # A flat, short poll of one indexed count: a growing back-off added up to 50 ms to every answer.
    while ImageAnalysis.objects.filter(pk__in=ids).exclude(status__in=finished).exists() and time.monotonic() < deadline:
        time.sleep(0.003)
    rows = list(ImageAnalysis.objects.filter(pk__in=ids).select_related("model"))
    return sorted(rows, key=lambda row: ids.index(row.pk))

