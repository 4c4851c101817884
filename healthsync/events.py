"""Publishing domain events: every app's signals are sent after the transaction that caused them commits."""

from django.db import transaction
from django.dispatch import Signal


def publish(signal: Signal, **payload) -> None:
    """Send ``signal`` once the current transaction commits (at once outside a transaction),
    so a receiver never sees a change that was rolled back. Receivers get plain ids and values."""
    transaction.on_commit(lambda: signal.send(sender=signal, **payload))
