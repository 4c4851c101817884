from celery import shared_task

from . import services


@shared_task(acks_late=True, max_retries=3)
def expire_units() -> int:
    """The periodic expiry sweep; safe to run twice (already expired units are skipped)."""
    return services.units_expire_due()
