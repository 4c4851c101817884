"""Task interface of imaging: load ids, call a service; safe to run twice."""

from celery import shared_task

from . import analyses


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=analyses.MAX_ATTEMPTS)
def run_analysis(self, *, analysis_ids: list[int] | None = None, analysis_id: int | None = None) -> dict[str, int]:
    """One submitted batch (``analysis_id``: a message queued before batches existed)."""
    ids = list(analysis_ids or ([analysis_id] if analysis_id is not None else []))
    return analyses.analyses_run(analysis_ids=ids)


@shared_task(acks_late=True)
def warm_model(*, model_id: int) -> str:
    """Load a model into this worker's memory ahead of the first analysis."""
    from .inference import predictor_for
    from .models import MLModel

    model = MLModel.objects.get(pk=model_id)
    predictor_for(model)
    return str(model)


@shared_task(acks_late=True)
def requeue_stale_analyses() -> int:
    """Periodic: batches whose message never reached a worker are queued again."""
    return analyses.analyses_requeue_stale()
