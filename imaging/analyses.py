"""Image analyses: submitting uploads, running them (the Celery task calls ``analyses_run``), confirming.

The images of one request are one batch: one task, one conditional ``UPDATE ... RETURNING``
claiming and reading them, one model call and one Grad-CAM call for all of them (their overlays
drawn on every core), one transaction writing the results.

Running is exactly-once per analysis: a worker claims rows with a conditional UPDATE and writes
a result only if its claim is still the latest, so a redelivered task never produces a second
result. When a worker dies during a batch, the redelivered task runs the batch's unfinished
analyses one at a time (each claimed again, queued or running with attempts left), so an image
that keeps killing its worker ends as failed after ``MAX_ATTEMPTS`` and the others are analysed.
"""

import contextlib
import functools
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Field, FileField, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from PIL import Image

from healthsync import audit
from healthsync.errors import Conflict, DomainError
from lib import files, wakeups

from . import events, suitability
from .models import AnalysisStatus, Condition, Confirmation, Dataset, ImageAnalysis, MLModel
from .selectors import ModelNotFound, condition_find, condition_models, dataset_models, model_resolve
from .uploads import Study, read_study

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
STALE_AFTER = timedelta(minutes=5)
FINISHED_CHANNEL = "imaging_analyses_finished"
MAX_BATCH = 32
OVERLAY_SIZE = 256


ALL_MODELS = "all"


def _mismatch(chosen: MLModel, target: str) -> DomainError:
    message = (
        f"{chosen.name} is not a model for {target}: choose one of its models, or leave the model out for its default."
    )
    return DomainError(message, code="model_mismatch", fields={"model": [message]})


def models_choose(
    *, dataset: str = "", condition: str = "", model: str | None = None
) -> tuple[list[MLModel], Condition | None]:
    """The model(s) a request names, and the condition it asks about.

    ``condition`` (a code or name) or ``dataset`` (a data set; a condition's name is taken too)
    says what to look for; ``model`` is an architecture of the data set (``basic_cnn``), a model
    name (``pneumoniamnist-resnet50``, optionally ``:version``), ``all`` (every active model that
    covers it, for comparison) or nothing (its default). A model that does not cover the condition
    or data set is refused (``model_mismatch``), never used silently."""
    dataset, condition, model = dataset.strip(), condition.strip(), (model or "").strip() or None
    asked = None
    if condition:
        asked = condition_find(reference=condition)
        if asked is None:
            raise DomainError(
                f"Unknown condition {condition!r}: see GET /api/conditions.",
                code="unknown_condition",
                fields={"condition": ["Unknown."]},
            )
    elif (
        dataset
        and not Dataset.objects.filter(name=dataset).exists()
        and not MLModel.objects.filter(dataset=dataset).exists()
    ):
        asked = condition_find(reference=dataset)  # the legacy field, naming a condition
        if asked is not None:
            dataset = ""
    if asked is None and not dataset:
        raise DomainError("Name the condition (or data set) to analyse for.", fields={"condition": ["Required."]})
    target = asked.name if asked else dataset
    of_condition = condition_models(condition=asked) if asked else []
    covering = (
        [candidate for candidate in of_condition if not dataset or candidate.dataset == dataset]
        if asked
        else dataset_models(dataset=dataset)
    )
    if model == ALL_MODELS or model is None:
        if not covering:
            if asked is None and not Dataset.objects.filter(name=dataset).exists():
                raise DomainError(
                    f"Unknown data set {dataset!r}.", code="unknown_dataset", fields={"dataset": ["Unknown."]}
                )
            message = f"No model yet for {target}" + (
                ": run make models." if asked is None or asked.datasets.exists() else "."
            )
            raise DomainError(message, code="no_model", fields={"condition" if asked else "dataset": [message]})
        return (covering if model == ALL_MODELS else covering[:1]), asked
    reference = (
        model if ("-" in model or ":" in model) else f"{dataset or (covering[0].dataset if covering else '')}-{model}"
    )
    try:
        chosen = model_resolve(reference=reference)
    except ModelNotFound as exc:
        raise DomainError(f"{exc}.", code="unknown_model", fields={"model": [str(exc)]}) from None
    if asked is not None and chosen.pk not in {candidate.pk for candidate in of_condition}:
        raise _mismatch(chosen, asked.name)
    if dataset and chosen.dataset != dataset:
        raise _mismatch(chosen, f"the data set {dataset}")
    return [chosen], asked


def uploads_read(files) -> list[tuple[str, bytes]]:
    """``(name, bytes)`` of a request's uploaded files (Django ``UploadedFile``s, which the parser
    has put on disk past a few megabytes), counted and sized before any is read into memory: at
    most ``MAX_BATCH`` of them and ``HEALTHSYNC_MAX_BATCH_MB`` in all (each file's own limit,
    ``HEALTHSYNC_MAX_UPLOAD_MB``, is checked with its content)."""
    if len(files) > MAX_BATCH:
        raise DomainError(f"At most {MAX_BATCH} images in one request.", fields={"image": [f"At most {MAX_BATCH}."]})
    limit_mb = settings.HEALTHSYNC_MAX_BATCH_MB
    total = sum(file.size or 0 for file in files)
    if total > limit_mb * 1024 * 1024:
        message = (
            f"The images of one request may hold {limit_mb} MB in all; these hold {total / 2**20:,.0f} MB. "
            "Send them in smaller batches."
        )
        raise DomainError(message, code="batch_too_large", fields={"image": [message]})
    return [(file.name, file.read()) for file in files]


PATIENT_FIELD_LENGTH = 64
FILE_EXTENSIONS = {"png": "png", "jpeg": "jpg", "dicom": "dcm"}


def patient_digest(value: str) -> str:
    """A keyed digest of a patient reference or accession number (spaces and case ignored): the
    encrypted values cannot be searched, their digests can (exact match only)."""
    normalised = "".join(value.split()).upper()
    return salted_hmac("healthsync.imaging.patient-search", normalised).hexdigest() if normalised else ""


def _patient_field(value: str, field: str, label: str) -> str:
    value = (value or "").strip()
    if len(value) > PATIENT_FIELD_LENGTH:
        message = f"The {label} may be at most {PATIENT_FIELD_LENGTH} characters."
        raise DomainError(message, fields={field: [message]})
    return value


def analyses_submit(
    *,
    hospital,
    user,
    uploads: list[tuple[str, bytes]],
    dataset: str = "",
    condition: str = "",
    model: str | None = None,
    force: bool = False,
    patient_reference: str = "",
    accession_number: str = "",
    listener: wakeups.Listener | None = None,
) -> list[ImageAnalysis]:
    """Check every upload, then queue one analysis per image and model (all or none: one transaction).

    Each image must fit each model (``imaging.suitability``); with ``force`` staff analyse one that
    only looks unlike the model's images anyway, and the analysis carries the warning. The patient
    reference and accession number, given or read from the DICOM before de-identification, are
    kept encrypted, with digests to search by. ``listener`` starts listening for finished analyses
    in that transaction (``analyses_submit_and_wait``)."""
    chosen_models, asked, patient_reference, accession_number = _submission_checked(
        len(uploads),
        dataset=dataset,
        condition=condition,
        model=model,
        patient_reference=patient_reference,
        accession_number=accession_number,
    )
    studies = [(name or "image", read_study(data, name=name or "image")) for name, data in uploads]
    return _studies_queued(
        studies,
        hospital=hospital,
        user=user,
        chosen_models=chosen_models,
        asked=asked,
        force=force,
        patient_reference=patient_reference,
        accession_number=accession_number,
        listener=listener,
    )


def studies_submit(
    *,
    hospital,
    user,
    studies: list[tuple[str, Study]],
    condition: str = "",
    model: str | None = None,
    force: bool = False,
) -> list[ImageAnalysis]:
    """``analyses_submit`` for studies already read (``uploads.read_study``: checked, DICOM
    de-identified, original identifiers apart) that arrived another way than a request, such as
    from the DICOM node; ``user`` may be None (no person sent them). Same checks, same rows."""
    chosen_models, asked, _, _ = _submission_checked(len(studies), condition=condition, model=model)
    return _studies_queued(studies, hospital=hospital, user=user, chosen_models=chosen_models, asked=asked, force=force)


def _submission_checked(
    count: int,
    *,
    dataset: str = "",
    condition: str = "",
    model: str | None = None,
    patient_reference: str = "",
    accession_number: str = "",
) -> tuple[list[MLModel], Condition | None, str, str]:
    """The checks of a submission before its images are read: their number, the models, the patient fields."""
    if not count:
        raise DomainError("Attach at least one image.", code="no_image", fields={"image": ["Required."]})
    if count > MAX_BATCH:
        raise DomainError(f"At most {MAX_BATCH} images in one request.", fields={"image": [f"At most {MAX_BATCH}."]})
    chosen_models, asked = models_choose(dataset=dataset, condition=condition, model=model)
    if count * len(chosen_models) > MAX_BATCH:
        message = (
            f"At most {MAX_BATCH} analyses in one request: {count} images for {len(chosen_models)} models is too many."
        )
        raise DomainError(message, fields={"image": [message]})
    patient_reference = _patient_field(patient_reference, "patient_reference", "patient reference")
    accession_number = _patient_field(accession_number, "accession_number", "accession number")
    return chosen_models, asked, patient_reference, accession_number


def _studies_queued(
    studies: list[tuple[str, Study]],
    *,
    hospital,
    user,
    chosen_models: list[MLModel],
    asked: Condition | None,
    force: bool,
    patient_reference: str = "",
    accession_number: str = "",
    listener: wakeups.Listener | None = None,
) -> list[ImageAnalysis]:
    """Check that each study fits each model, then store and queue its analyses (one transaction)."""
    overridden: list[dict[int, list[dict]]] = [{} for _ in studies]  # per image: model id -> the checks force overrode
    for chosen in chosen_models:
        for index, found in enumerate(suitability.problems(studies, model=chosen)):
            for problem in found:
                if not force or problem.code not in suitability.FORCEABLE:
                    raise problem
                overridden[index].setdefault(chosen.pk, []).append({"code": problem.code, "message": problem.message})
    for _, study in studies:
        study.preview = None  # not kept in the request any longer than the checks
    batch = uuid.uuid4()
    created = []
    for (name, study), warnings in zip(studies, overridden, strict=True):
        reference = patient_reference or _patient_field(
            study.identifiers.get("PatientID", ""), "patient_reference", "patient reference"
        )
        accession = accession_number or _patient_field(
            study.identifiers.get("AccessionNumber", ""), "accession_number", "accession number"
        )
        file_name = f"{uuid.uuid4().hex}.{FILE_EXTENSIONS[study.kind]}"
        for chosen in chosen_models:  # one analysis per model, sharing the image's one file
            analysis = ImageAnalysis(
                hospital=hospital,
                requested_by=user,
                batch=batch,
                dataset=chosen.dataset,
                requested_condition=asked,
                model=chosen,
                image_kind=study.kind,
                original_name=name[:255],
                study_metadata=study.metadata,
                warnings=warnings.get(chosen.pk, []),
                patient_identifiers=json.dumps(study.identifiers) if study.identifiers else "",
                patient_reference=reference,
                accession_number=accession,
                patient_digest=patient_digest(reference),
                accession_digest=patient_digest(accession),
            )
            analysis.image = _file_name("image", analysis, file_name)
            created.append(analysis)
    _store(created, [study.stored for _, study in studies], user=user, listener=listener, per_image=len(chosen_models))
    return created


def _file_name(field: str, analysis: ImageAnalysis, filename: str) -> str:
    """Where a file of ``analysis`` is stored: its field's ``upload_to``. The names made here are
    safe (hexadecimal and decimal digits) and ``files.save_new`` joins them to the storage root
    safely, so they skip ``FileField.generate_filename``'s checks (9 µs a name, against 1 µs; a
    32-image batch names 64 files on its way to a result)."""
    # Both file fields name their files with a function (models._study_path), never a str prefix.
    upload_to = cast(Callable[[ImageAnalysis, str], str], _file_field(field).upload_to)
    return upload_to(analysis, filename)


def _field(name: str) -> "Field[Any, Any]":
    """ImageAnalysis's concrete field ``name`` (``get_field`` is typed to return a relation as well)."""
    return cast("Field[Any, Any]", ImageAnalysis._meta.get_field(name))


def _file_field(name: str) -> FileField:
    """ImageAnalysis's file field ``name`` (``image`` or ``gradcam``)."""
    return cast(FileField, ImageAnalysis._meta.get_field(name))


def _column(field: "Field[Any, Any]") -> str:
    """The database column of a concrete field (typed ``str | None``: None only for fields without one)."""
    return cast(str, field.column)


def _store(created: list[ImageAnalysis], contents: list[bytes], *, user, listener, per_image: int = 1) -> None:
    """Store the images (under the names in ``created``) and their analyses in one transaction,
    then queue them once it commits; a batch that rolls back takes its files with it. With several
    models (``per_image`` analyses an image) the analyses of one image share its one stored file."""
    firsts = created[::per_image]
    stored = _write_files("image", firsts, contents)
    for index, analysis in enumerate(created):
        analysis.image = firsts[index // per_image].image.name
    try:
        with transaction.atomic():
            if listener is not None:
                listener.start()  # in effect as this commits, before the batch is queued
            ImageAnalysis.objects.bulk_create(created)
            _audit_submission(created, user=user)
            transaction.on_commit(lambda: _enqueue([a.pk for a in created]))
            events.publish(
                events.analyses_status_changed,
                analysis_ids=[a.pk for a in created],
                user_id=getattr(user, "pk", None),
                status=AnalysisStatus.QUEUED,
            )
    except BaseException:
        _remove_unrecorded("image", firsts, stored)
        raise


def _audit_submission(created: list[ImageAnalysis], *, user) -> None:
    """One audit entry per submitted analysis (who sent which image to which model version), in one
    statement: ``bulk_create`` sends no signal for django-auditlog to record (imaging/audit.py)."""
    from auditlog.models import LogEntry

    audit.record(
        created,
        action=LogEntry.Action.CREATE,
        actor=user,
        changes=lambda analysis: {
            "model": [None, f"{analysis.model.name}:{analysis.model.version}"],
            "batch": [None, str(analysis.batch)],
            "hospital": [None, str(analysis.hospital_id)],
        },
    )


def _write_files(field: str, analyses: list[ImageAnalysis], contents: list[bytes]) -> list[str]:
    """Store each analysis's file ``field`` (named already) with its content; returns the names
    stored, which the analyses now hold (another name only where the one chosen was taken)."""
    storage = _file_field(field).storage
    stored = files.save_new(
        storage, [(getattr(analysis, field).name, data) for analysis, data in zip(analyses, contents, strict=True)]
    )
    for analysis, name in zip(analyses, stored, strict=True):
        setattr(analysis, field, name)
    return stored


def _remove_unrecorded(field: str, analyses: list[ImageAnalysis], names: list[str]) -> None:
    """After a write failed: remove the files among ``names`` that no stored analysis refers to.
    Rows that did commit (before an error after the commit) keep theirs, and every file stays when
    the database cannot say (it is out of reach)."""
    storage = _file_field(field).storage
    with contextlib.suppress(DatabaseError):
        kept = set(ImageAnalysis.objects.filter(pk__in=[a.pk for a in analyses if a.pk]).values_list(field, flat=True))
        for name in names:
            if name not in kept:
                storage.delete(name)


def _enqueue(analysis_ids: list[int]) -> None:
    """One message per submitted batch, in order of submission. The rows are committed already: if
    the broker cannot take the message (or this process dies first), the batch stays queued and
    ``analyses_requeue_stale`` sends it again."""
    from kombu.exceptions import OperationalError

    from .tasks import run_analysis

    try:
        run_analysis.delay(analysis_ids=analysis_ids)
    except OperationalError as error:
        logger.warning(
            "analyses %s not queued, the broker is unavailable (%s): the stale-batch sweep will queue them",
            analysis_ids,
            error,
        )


def analyses_requeue_stale(*, older_than: timedelta = STALE_AFTER) -> int:
    """Queue again every batch whose analyses have waited untouched for ``older_than`` (its message
    was never published, or was lost); returns how many batches. A batch whose first message
    still arrives runs once all the same: the second delivery finds nothing left to claim."""
    stale = ImageAnalysis.objects.filter(
        status=AnalysisStatus.QUEUED, attempts=0, submitted_at__lt=timezone.now() - older_than
    )
    batches: dict = {}
    for analysis_id, batch in stale.order_by("submitted_at", "pk").values_list("pk", "batch"):
        batches.setdefault(batch, []).append(analysis_id)
    for analysis_ids in batches.values():
        _enqueue(analysis_ids)
    return len(batches)


def _announce(analyses: list[ImageAnalysis], status: str, *, woken: bool = False) -> None:
    """Publish a status change; a finished one also wakes the requests waiting for results
    (``analyses_submit_and_wait``), unless the transaction that wrote it did (``woken``)."""
    if status in (AnalysisStatus.DONE, AnalysisStatus.FAILED) and analyses and not woken:
        wakeups.wake(FINISHED_CHANNEL)
    for user_id in {analysis.requested_by_id for analysis in analyses}:
        ids = [analysis.pk for analysis in analyses if analysis.requested_by_id == user_id]
        events.analyses_status_changed.send(sender="imaging", analysis_ids=ids, user_id=user_id, status=status)


def _columns(*names: str) -> dict[str, str]:
    """The quoted database columns of ImageAnalysis fields, for the statements written by hand below."""
    quote = connection.ops.quote_name
    return {name: quote(_column(_field(name))) for name in names}


def _claim_batch(analysis_ids: list[int]) -> list[ImageAnalysis]:
    """First delivery: take every analysis of the batch that no worker has touched, in one
    conditional ``UPDATE ... RETURNING`` (the claim and the rows in one statement); returns them,
    with their model, in submission order."""
    if not analysis_ids:
        return []
    meta, quote = ImageAnalysis._meta, connection.ops.quote_name
    column = _columns("id", "status", "attempts", "started_at")
    returned = ", ".join(quote(_column(field)) for field in meta.concrete_fields)
    # Only quoted table and column names from the model go into the text; every value is a parameter.
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {column['status']} = %s, {column['attempts']} = 1, "  # nosec B608
        f"{column['started_at']} = %s "
        f"WHERE {column['id']} IN ({', '.join(['%s'] * len(analysis_ids))}) "
        f"AND {column['status']} = %s AND {column['attempts']} = 0 "
        f"RETURNING {returned}"
    )
    claimed_at = _field("started_at").get_db_prep_value(timezone.now(), connection)
    params = [AnalysisStatus.RUNNING, claimed_at, *analysis_ids, AnalysisStatus.QUEUED]
    claimed = list(ImageAnalysis.objects.raw(sql, params))
    models = MLModel.objects.defer("card", "metrics").in_bulk({analysis.model_id for analysis in claimed})
    for analysis in claimed:
        analysis.model = models[analysis.model_id]
    return sorted(claimed, key=lambda analysis: analysis_ids.index(analysis.pk))


def _claim_one(analysis_id: int) -> ImageAnalysis | None:
    """Take one analysis again after a worker died with it (queued, or running with attempts left):
    returns it, or None when it is done, failed, or out of attempts (then it is marked failed)."""
    now = timezone.now()
    live = Q(status=AnalysisStatus.QUEUED) | Q(status=AnalysisStatus.RUNNING)
    claimed = ImageAnalysis.objects.filter(live, pk=analysis_id, attempts__lt=MAX_ATTEMPTS).update(
        status=AnalysisStatus.RUNNING, attempts=F("attempts") + 1, started_at=now
    )
    if claimed == 1:
        return ImageAnalysis.objects.select_related("model").get(pk=analysis_id)
    exhausted = ImageAnalysis.objects.filter(live, pk=analysis_id, attempts__gte=MAX_ATTEMPTS)
    if exhausted.update(
        status=AnalysisStatus.FAILED,
        finished_at=now,
        failure_reason=f"The analysis stopped its worker {MAX_ATTEMPTS} times; the image is not analysed.",
    ):
        _announce(list(ImageAnalysis.objects.filter(pk=analysis_id)), AnalysisStatus.FAILED)
    return None


def _overlay(pixels: np.ndarray, cam: np.ndarray) -> bytes:
    """The Grad-CAM heatmap over the study itself, at a size a person can read."""
    from ml_models.gradcam import overlay_png

    picture = Image.fromarray(pixels).convert("RGB").resize((OVERLAY_SIZE, OVERLAY_SIZE), Image.Resampling.BILINEAR)
    heat = Image.fromarray(np.asarray(cam, dtype=np.float32)).resize(
        (OVERLAY_SIZE, OVERLAY_SIZE), Image.Resampling.BILINEAR
    )
    return overlay_png(np.asarray(picture, dtype=np.float32), np.clip(np.asarray(heat), 0.0, 1.0))


@functools.cache
def _drawing_threads() -> ThreadPoolExecutor:
    """Threads for drawing a batch's overlays, made in the process that draws (after any fork)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="overlay")


def _overlays(pixels: list[np.ndarray], cams: list[np.ndarray]) -> list[bytes]:
    """A batch's overlays, drawn on every core: nearly all of the work (about 4 ms an image, against
    0.1 ms for its heatmap) is Pillow resizing, blending and encoding, which releases the GIL."""
    if len(pixels) == 1:
        return [_overlay(pixels[0], cams[0])]
    return list(_drawing_threads().map(_overlay, pixels, cams))


def _compute(predictor, analyses: list[ImageAnalysis]) -> tuple[list, list[bytes], dict[str, float]]:
    """Predictions and Grad-CAM overlays for ``analyses`` in one pass (one model call, one Grad-CAM
    call), with the time each stage took (ms, for the whole batch)."""
    from ml_models.preprocessing import read_image

    started = time.perf_counter()
    pixels = []
    for analysis in analyses:
        with analysis.image.open("rb") as stored:
            pixels.append(read_image(stored.read()))
    prepared = predictor.prepare(pixels)
    preprocessed = time.perf_counter()
    predictions = predictor.predictions(predictor.probabilities(prepared))
    inferred = time.perf_counter()
    cams = predictor.explainer.heatmaps(prepared, [prediction.class_index for prediction in predictions])
    overlays = _overlays(pixels, cams)
    explained = time.perf_counter()
    stages = {
        "preprocessing_ms": preprocessed - started,
        "inference_ms": inferred - preprocessed,
        "gradcam_ms": explained - inferred,
    }
    return predictions, overlays, {name: seconds * 1000 for name, seconds in stages.items()}


def _record_failure(analysis: ImageAnalysis, exc: Exception) -> bool:
    logger.error("analysis %s failed: %s: %s", analysis.pk, exc.__class__.__name__, exc, exc_info=exc)
    return bool(
        ImageAnalysis.objects.filter(pk=analysis.pk, status=AnalysisStatus.RUNNING, attempts=analysis.attempts).update(
            status=AnalysisStatus.FAILED,
            finished_at=timezone.now(),
            failure_reason=f"{exc.__class__.__name__}: {str(exc)[:500]}",
        )
    )


def _findings(
    analysis: ImageAnalysis, prediction, conditions: dict[str, tuple[int, str]]
) -> tuple[int | None, list[dict]]:
    """The main finding's condition id and the findings: the catalogue's condition of the predicted
    class (``ml_models.catalogue``: a class that is no finding, such as normal, has none)."""
    name = finding_names(analysis.dataset).get(prediction.label)
    if name not in conditions:
        return None, []
    pk, code = conditions[name]
    return pk, [
        {
            "class": prediction.label,
            "condition": name,
            "code": code,
            "probability": prediction.probabilities.get(prediction.label),
        }
    ]


def finding_names(dataset: str) -> dict[str, str | None]:
    """What each class of a data set's models means as a finding (``ml_models.catalogue``)."""
    from ml_models.catalogue import DATASETS

    return DATASETS[dataset].findings if dataset in DATASETS else {}


def _record_results(
    analyses: list[ImageAnalysis], predictions: list, overlays: list[bytes], stages: dict[str, float]
) -> list[ImageAnalysis]:
    """Write the results of analyses still claimed by this run (one transaction); returns those
    written. A batch's stage times are shared equally among its analyses."""
    share = {name: value / len(analyses) for name, value in stages.items()}
    storage = _file_field("gradcam").storage
    names = {name for analysis in analyses for name in finding_names(analysis.dataset).values() if name}
    conditions = {
        name: (pk, code)
        for pk, name, code in Condition.objects.filter(name__in=names).values_list("pk", "name", "code")
    }
    now = timezone.now()
    for analysis, prediction in zip(analyses, predictions, strict=True):
        analysis.gradcam = _file_name("gradcam", analysis, f"gradcam-{analysis.pk}-{analysis.attempts}.png")
        analysis.predictions = sorted(
            ({"class": label, "probability": probability} for label, probability in prediction.probabilities.items()),
            key=lambda row: -row["probability"],
        )
        analysis.predicted_class, analysis.status, analysis.finished_at, analysis.failure_reason = (
            prediction.label,
            AnalysisStatus.DONE,
            now,
            "",
        )
        analysis.condition_id, analysis.findings = _findings(analysis, prediction, conditions)
        started_at = cast(datetime, analysis.started_at)  # set by the claim (_claim_batch, _claim_one)
        analysis.queue_wait_ms = (started_at - analysis.submitted_at).total_seconds() * 1000
        analysis.preprocessing_ms, analysis.inference_ms, analysis.gradcam_ms = (
            share["preprocessing_ms"],
            share["inference_ms"],
            share["gradcam_ms"],
        )
    fields = (
        "status",
        "finished_at",
        "predictions",
        "predicted_class",
        "condition",
        "findings",
        "gradcam",
        "failure_reason",
        "queue_wait_ms",
        "preprocessing_ms",
        "inference_ms",
        "gradcam_ms",
    )
    stored = _write_files("gradcam", analyses, overlays)
    try:
        with transaction.atomic():
            still_mine = _update_claimed(analyses, fields)
            if still_mine:  # the waiting requests are woken as this commits (one round trip fewer than after it)
                wakeups.wake(FINISHED_CHANNEL)
    except BaseException:
        _remove_unrecorded("gradcam", analyses, stored)
        raise
    written = [analysis for analysis in analyses if analysis.pk in still_mine]
    for analysis, name in zip(analyses, stored, strict=True):  # name: the analysis's gradcam, as stored
        if analysis.pk not in still_mine:  # a later attempt took over: its result stands, not ours
            storage.delete(name)
            continue
        for earlier in range(1, analysis.attempts):  # overlays of attempts whose worker died before recording them
            stale = _file_name("gradcam", analysis, f"gradcam-{analysis.pk}-{earlier}.png")
            if stale != name and storage.exists(stale):
                storage.delete(stale)
    return written


def _update_claimed(analyses: list[ImageAnalysis], fields: tuple[str, ...]) -> set[int]:
    """Write ``fields`` of each analysis that is still running under this run's claim (its
    attempt), in one statement; returns the ids written. One ``UPDATE ... FROM (VALUES ...)``
    instead of one ORM update per row (with the commit, 32 rows took 60 ms against 9 ms, one row
    3.3 ms against 2.4 ms; compiling the updates was most of it), or Django's ``bulk_update``,
    whose CASE expressions are slower still."""
    meta, quote = ImageAnalysis._meta, connection.ops.quote_name
    table, column = quote(meta.db_table), _columns("id", "attempts", "status", *fields)
    # PostgreSQL types a VALUES column by its first row: a NULL there (no finding) would be text.
    casts = {f: f"::{_field(f).cast_db_type(connection)}" if connection.vendor == "postgresql" else "" for f in fields}
    row = "(%s, %s, " + ", ".join("%s" + casts[f] for f in fields) + ")"
    params = []
    for analysis in analyses:
        params += [analysis.pk, analysis.attempts]
        params += [
            _field(field).get_db_prep_value(getattr(analysis, _field(field).attname), connection) for field in fields
        ]
    names = ", ".join(column[field] for field in fields)
    assignments = ", ".join(f"{column[field]} = claimed.{column[field]}" for field in fields)
    # Only quoted table and column names from the model go into the text; every value is a parameter.
    sql = (
        f"WITH claimed (id, attempts, {names}) AS (VALUES {', '.join([row] * len(analyses))}) "  # nosec B608
        f"UPDATE {table} SET {assignments} FROM claimed "
        f"WHERE {table}.{column['id']} = claimed.id AND {table}.{column['attempts']} = claimed.attempts "
        f"AND {table}.{column['status']} = %s RETURNING {table}.{column['id']}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, AnalysisStatus.RUNNING])
        return {written for (written,) in cursor.fetchall()}


def _run_claimed(analyses: list[ImageAnalysis]) -> Counter[str]:
    """Compute and record analyses this run has claimed; an image that fails is recorded as failed on its own."""
    from .inference import predictor_for

    outcome: Counter[str] = Counter()
    _announce(analyses, AnalysisStatus.RUNNING)
    by_model: dict[int, list[ImageAnalysis]] = {}
    for analysis in analyses:
        by_model.setdefault(analysis.model_id, []).append(analysis)
    for group in by_model.values():
        predictor = predictor_for(group[0].model)  # loaded once per worker; not part of the timings
        try:
            batches = [(group, _compute(predictor, group))]
        except Exception:  # find the image at fault: each one on its own
            batches = []
            for analysis in group:
                try:
                    batches.append(([analysis], _compute(predictor, [analysis])))
                except Exception as exc:  # a failure of this image, not of the worker: record it
                    if _record_failure(analysis, exc):
                        _announce([analysis], AnalysisStatus.FAILED)
                        outcome["failed"] += 1
        for members, (predictions, overlays, stages) in batches:
            written = _record_results(members, predictions, overlays, stages)
            _announce(written, AnalysisStatus.DONE, woken=True)
            outcome["done"] += len(written)
            outcome["superseded"] += len(members) - len(written)
    return outcome


def analyses_run(*, analysis_ids: list[int]) -> dict[str, int]:
    """Run one submitted batch (called by the Celery task). Safe to call twice.

    On its first delivery the batch is claimed at once and computed in one pass. Analyses that a
    worker had already claimed (it died during the batch: the task was delivered again) are then
    claimed and run one at a time, so an image that kills its worker uses up only its own attempts.
    """
    outcome: Counter[str] = Counter()
    batch = _claim_batch(analysis_ids)
    if batch:
        outcome += _run_claimed(batch)
    done = {analysis.pk for analysis in batch}
    for analysis_id in analysis_ids:
        if analysis_id in done:
            continue
        claimed = _claim_one(analysis_id)
        if claimed is None:
            outcome["skipped"] += 1
        else:
            outcome += _run_claimed([claimed])
    return dict(outcome)


def analysis_confirm(*, analysis: ImageAnalysis, by, confirmation: str, true_finding: str = "") -> ImageAnalysis:
    """A clinician's reading of the result: agrees, disagrees (naming the true finding) or uncertain.
    Changing a reading already recorded marks the analysis amended (its FHIR report: ``amended``)."""
    if confirmation not in Confirmation.values:
        raise DomainError(
            f"confirmation must be one of {', '.join(Confirmation.values)}.",
            fields={"confirmation": ["Invalid choice."]},
        )
    if analysis.status != AnalysisStatus.DONE:
        raise Conflict("Only a finished analysis can be confirmed.", code="not_finished")
    if confirmation == Confirmation.DISAGREES:
        if true_finding not in analysis.model.classes:
            raise DomainError(
                f"Name the true finding, one of {', '.join(analysis.model.classes)}.",
                fields={"true_finding": [f"One of {', '.join(analysis.model.classes)}."]},
            )
        if true_finding == analysis.predicted_class:
            raise DomainError(
                "The true finding is the predicted one: choose agrees.", fields={"true_finding": ["Same as predicted."]}
            )
    with transaction.atomic():
        analysis = ImageAnalysis.objects.select_for_update().get(pk=analysis.pk)
        corrected = confirmation if confirmation == Confirmation.DISAGREES else ""
        if analysis.confirmation and (analysis.confirmation, analysis.true_finding) != (
            confirmation,
            true_finding if corrected else "",
        ):
            analysis.amended_at = timezone.now()  # a recorded reading changed: the report is amended
        analysis.confirmation = confirmation
        analysis.true_finding = true_finding if corrected else ""
        analysis.confirmed_by, analysis.confirmed_at = by, timezone.now()
        analysis.save(update_fields=["confirmation", "true_finding", "confirmed_by", "confirmed_at", "amended_at"])
    return analysis


# What a worker writes about an analysis after it was queued: all a waiting request reads again.
RESULT_FIELDS = (
    "status",
    "attempts",
    "started_at",
    "finished_at",
    "predictions",
    "predicted_class",
    "condition_id",
    "findings",
    "gradcam",
    "failure_reason",
    "queue_wait_ms",
    "preprocessing_ms",
    "inference_ms",
    "gradcam_ms",
)


_waiting_slots: dict[int, threading.BoundedSemaphore] = {}
_waiting_slots_lock = threading.Lock()


def _waiting_slots_of_process() -> threading.BoundedSemaphore:
    """This process's ``HEALTHSYNC_PREDICT_WAITERS`` places for requests that wait for results."""
    limit = max(0, settings.HEALTHSYNC_PREDICT_WAITERS)
    with _waiting_slots_lock:
        return _waiting_slots.setdefault(limit, threading.BoundedSemaphore(limit))


def analyses_submit_and_wait(*, timeout: float = 60.0, **submission) -> list[ImageAnalysis]:
    """``analyses_submit``, then wait up to ``timeout`` seconds for its analyses to finish (done or
    failed); returns them with their results, in submission order. It listens from the transaction
    that queues them, so nothing can finish unseen: the first look is after the first wake-up. It
    reads again only what a worker writes (``RESULT_FIELDS``) into the analyses it queued.

    A waiting request holds a server thread: when ``HEALTHSYNC_PREDICT_WAITERS`` requests of this
    process are waiting already, it submits without waiting (the caller answers 202, as when the
    wait runs out)."""
    slots = _waiting_slots_of_process()
    if not slots.acquire(blocking=False):
        logger.info(
            "%s requests of this process already wait for results: this one is answered at once",
            settings.HEALTHSYNC_PREDICT_WAITERS,
        )
        return analyses_submit(**submission)
    try:
        return _submit_and_wait(timeout=timeout, **submission)
    finally:
        slots.release()


def _submit_and_wait(*, timeout: float, **submission) -> list[ImageAnalysis]:
    listener = wakeups.Listener(FINISHED_CHANNEL)
    try:
        queued = analyses_submit(**submission, listener=listener)
    except BaseException:
        with contextlib.suppress(DatabaseError):  # the error that stopped the submission is the one to report
            listener.close()
        raise
    by_id = {analysis.pk: analysis for analysis in queued}
    deadline = time.monotonic() + timeout
    try:  # woken as the worker commits results (or `_announce`s a failure)
        while (
            any(analysis.status not in (AnalysisStatus.DONE, AnalysisStatus.FAILED) for analysis in queued)
            and time.monotonic() < deadline
        ):
            listener.wait(deadline - time.monotonic())
            for pk, *values in ImageAnalysis.objects.filter(pk__in=by_id).values_list("pk", *RESULT_FIELDS):
                for field, value in zip(RESULT_FIELDS, values, strict=True):
                    setattr(by_id[pk], field, value)
    finally:
        listener.close()
    return queued
