"""The development channel of the delivery worker (``KIMIA_NOTIFY_SINK``): every event to one
target, ``sink``, printed (``console``) or appended to a file (``file:<path>``) as one line:
``<event id> <event> <channel> <attempt>``. The real channels (SMS, e-mail, webhooks) are the
messages extra's (kimia.extras.messages)."""

from __future__ import annotations

import os
import sys
import time

from kimia.plugins.types import Delivery, Event, Services

#: Seconds a file sink takes per delivery: long enough that a worker killed mid-run is killed
#: mid-delivery (tests/extras/notifications/test_kill9.py), short enough not to matter.
FILE_PAUSE_S = 0.002


class SinkChannel:
    """Delivers every event to ``sink`` (see the module)."""

    name = "sink"

    def __init__(self, where: str) -> None:
        if where != "console" and not where.startswith("file:"):
            raise ValueError("a sink is console or file:<path>")
        self.where = where

    def targets(self, event: Event, services: Services) -> list[str]:
        return ["sink"]

    def deliver(self, delivery: Delivery, services: Services) -> None:
        line = f"{delivery.event.id} {delivery.event.event} {delivery.channel} {delivery.attempt}\n"
        if self.where == "console":
            sys.stdout.write(line)
            sys.stdout.flush()
            return
        time.sleep(FILE_PAUSE_S)
        fd = os.open(self.where[5:], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
