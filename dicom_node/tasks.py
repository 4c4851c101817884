"""Task interface of the DICOM node: load ids, call a service; safe to run twice."""

from celery import shared_task

from . import services

SEND_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=SEND_RETRIES)
def send_results(self, *, delivery_id: int) -> str:
    """One analysis's results to its hospital's destination AE, retried with a growing delay while the
    peer is unreachable; after the last retry the sweep (``resend_due_results``) goes on trying."""
    try:
        return services.delivery_send(delivery_id=delivery_id)
    except services.DeliveryFailed as failure:
        raise self.retry(
            exc=failure, countdown=services.retry_delay(self.request.retries + 1).total_seconds()
        ) from None


@shared_task(acks_late=True)
def resend_due_results() -> int:
    """Periodic: deliveries whose next attempt is due are queued again."""
    due = services.deliveries_due()
    for delivery_id in due:
        send_results.delay(delivery_id=delivery_id)
    return len(due)


@shared_task(acks_late=True)
def route_interrupted_associations() -> int:
    """Periodic: associations a stopped listener left open are ended and their instances routed."""
    return services.associations_interrupted()
