"""SMS behind a small interface; the default backend writes messages to the log."""

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("healthsync.sms")


class SmsBackend:
    def send(self, *, to: str, body: str, idempotency_key: str) -> None:
        raise NotImplementedError


class LoggingSmsBackend(SmsBackend):
    """Logs each message (the embedded default, and wherever no SMS provider is configured)."""

    def send(self, *, to: str, body: str, idempotency_key: str) -> None:
        if not to:
            raise ValueError("No phone number on record.")
        logger.info("SMS to %s [%s]: %s", to, idempotency_key, body)


def backend() -> SmsBackend:
    return import_string(getattr(settings, "HEALTHSYNC_SMS_BACKEND", "notifications.sms.LoggingSmsBackend"))()
