"""Task interface of notifications: load ids, call a service; each safe to run twice."""

from celery import shared_task

from . import services


@shared_task(acks_late=True, max_retries=3)
def inventory_level_changed(**event):
    services.inventory_level_changed(**event)


@shared_task(acks_late=True, max_retries=3)
def request_created(*, request_id: int):
    services.request_created(request_id=request_id)


@shared_task(acks_late=True, max_retries=3)
def units_expired(*, hospital_id: int, unit_ids: list[int]):
    services.units_expired(hospital_id=hospital_id, unit_ids=unit_ids)


@shared_task(acks_late=True, max_retries=3)
def transfusion_reaction(*, allocation_id: int):
    services.transfusion_reaction(allocation_id=allocation_id)


@shared_task(acks_late=True, max_retries=3)
def units_recalled(*, hospital_id: int, din: str, unit_ids: list[int], marker: str):
    services.units_recalled(hospital_id=hospital_id, din=din, unit_ids=unit_ids, marker=marker)


@shared_task(acks_late=True, max_retries=3)
def appointment_booked(*, appointment_id: int):
    services.appointment_booked(appointment_id=appointment_id)


@shared_task(acks_late=True, max_retries=3)
def analyses_finished(*, analysis_ids: list[int]):
    services.analyses_finished(analysis_ids=analysis_ids)


@shared_task(acks_late=True)
def expiring_digest():
    return len(services.expiring_digest())


@shared_task(acks_late=True)
def appointment_reminders():
    return services.appointment_reminders()


@shared_task(bind=True, acks_late=True, max_retries=services.MAX_DELIVERY_ATTEMPTS)
def send_delivery(self, *, delivery_id: int):
    try:
        return services.delivery_send(delivery_id=delivery_id)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=min(60 * 2**self.request.retries, 3600)) from exc


@shared_task(acks_late=True)
def resend_due_deliveries():
    """Sweep: re-enqueue deliveries left pending or claimed by a worker that died."""
    due = services.deliveries_due()
    for delivery_id in due:
        send_delivery.delay(delivery_id=delivery_id)
    return len(due)
