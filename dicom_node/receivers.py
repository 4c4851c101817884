"""Imaging's events in, result deliveries out: a finished analysis of a received instance is sent back."""

import logging

from django.db import transaction

from imaging import events as imaging_events

from . import services, tasks

logger = logging.getLogger(__name__)


def _queue(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        try:
            tasks.send_results.delay(delivery_id=delivery_id)
        except Exception as error:  # the broker is down (or, run inline, the peer): the sweep sends it
            logger.warning("results delivery %s not queued now (%s): the sweep will send it", delivery_id, error)


def _analyses_status_changed(sender, *, analysis_ids, status, **_):
    if status != "done":
        return
    try:
        with transaction.atomic():
            created = services.deliveries_create(analysis_ids=list(analysis_ids))
            transaction.on_commit(lambda: _queue(created))
    except Exception:  # never fail the worker that finished the analyses
        logger.exception("results deliveries for analyses %s not recorded", list(analysis_ids))


def connect() -> None:
    imaging_events.analyses_status_changed.connect(_analyses_status_changed, dispatch_uid="dicom_node.results")
