import os
import socket

from celery import shared_task
from django.utils import timezone

from lib.realtime import push, user_group


@shared_task(bind=True, max_retries=3, acks_late=True)
def worker_check(self, *, user_id: int) -> dict:
    """Answer a worker check on the requesting user's socket. Safe to run twice: it only reports."""
    answer = {
        "kind": "worker_check",
        "task_id": self.request.id,
        "worker": self.request.hostname or socket.gethostname(),
        "worker_pid": os.getpid(),
        "at": timezone.now().isoformat(),
    }
    push(user_group(user_id), answer)
    return answer
