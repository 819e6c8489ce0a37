"""Run the job dispatcher alone (qcluster already starts one beside each cluster)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand

from jobs import dispatcher


class Command(BaseCommand):
    help = "Hand due jobs to django-q2 and rescue jobs whose worker was lost, until stopped."

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        dispatcher.run(stop)
