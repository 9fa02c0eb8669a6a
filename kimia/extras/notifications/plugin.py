"""The notifications extra's hooks (registered as a built-in plugin: kimia.plugins.manager): the
``kimia notify`` commands that run the delivery worker (kimia.extras.notifications.worker) and
show what it has done."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import click

from kimia.plugins import hookimpl
from kimia.plugins.types import Services


def _service() -> Any:
    """The full service of the command's settings (``--database``, the environment)."""
    from kimia.app import assemble
    from kimia.settings import Settings

    settings = click.get_current_context().find_object(Settings)
    return assemble(settings)


@hookimpl
def kimia_register_commands(cli: Any, services: Callable[[], Services]) -> None:
    @cli.group("notify")  # type: ignore[untyped-decorator]
    def notify() -> None:
        """The notification outbox: the delivery worker and its counts."""

    @notify.command("run")  # type: ignore[untyped-decorator]
    @click.option("--once", is_flag=True, help="Deliver what is due now, then stop.")
    @click.option("--interval-ms", type=click.IntRange(10, 60_000), default=1000, show_default=True,
                  help="How long an idle worker waits before looking again.")
    @click.option("--lease-s", type=click.IntRange(1, 3600), default=60, show_default=True,
                  help="How long a delivery taken by this worker is left to it before another may take it.")
    @click.option("--concurrency", type=click.IntRange(1, 64), default=4, show_default=True,
                  help="Deliveries made at once (a channel may wait on its gateway).")
    def run(once: bool, interval_ms: int, lease_s: int, concurrency: int) -> None:
        """Run the delivery worker: every event of the outbox to every target of every channel,
        at least once, with retries and back-off (Ctrl-C or SIGTERM stops it after its pass)."""
        from kimia.extras.notifications.worker import Worker

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        service = _service()
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        try:
            worker = Worker(service, lease_s=lease_s, concurrency=concurrency)
            service.plugins.hook.kimia_startup(services=service.plugin_services, process="worker")
            click.echo(f"kimia notify: channels {', '.join(c.name for c in worker.channels) or '(none)'};"
                       f" tasks {', '.join(t.name for t in worker.tasks)}", err=True)
            done = worker.run(once=once, interval_s=interval_ms / 1000, stop=stop)
            service.plugins.hook.kimia_shutdown(process="worker")
            click.echo(f"dispatched {done.dispatched} events, sent {done.delivered}, to retry {done.retried}, failed {done.failed}")
        finally:
            service.close()

    @notify.command("retry")  # type: ignore[untyped-decorator]
    @click.argument("delivery_id", type=int)
    @click.option("--reason", required=True, help="Why it is sent again (kept in the audit log).")
    def retry(delivery_id: int, reason: str) -> None:
        """Send a failed delivery again (its next attempt is due at once)."""
        import getpass

        from kimia.extras.notifications.worker import retry_delivery

        service = _service()
        try:
            retry_delivery(service, None, delivery_id, actor=f"cli:{getpass.getuser()}", reason=reason)
        finally:
            service.close()
        click.echo(f"delivery {delivery_id} is pending again")

    @notify.command("status")  # type: ignore[untyped-decorator]
    @click.option("--json", "as_json", is_flag=True, help="As JSON.")
    def status(as_json: bool) -> None:
        """Events in the outbox, those waiting to be fanned out, and deliveries per status."""
        from kimia.extras.notifications.worker import status_counts

        service = _service()
        try:
            counts = status_counts(service)
        finally:
            service.close()
        if as_json:
            click.echo(json.dumps(counts))
        else:
            for name, n in counts.items():
                click.echo(f"{name:8} {n}")
