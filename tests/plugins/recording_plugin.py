"""A plugin used by its dotted module path (``KIMIA_PLUGINS=plugins.recording_plugin``): it notes
its start-ups and shut-downs, and adds a command and a dialect."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kimia.plugins import hookimpl
from kimia.plugins.types import DialectSpec, Services

#: (hook, process) in the order they were called.
CALLS: list[tuple[str, str]] = []


@hookimpl
def kimia_startup(services: Services, process: str) -> None:
    assert services.now() > 0
    CALLS.append(("startup", process))


@hookimpl
def kimia_shutdown(process: str) -> None:
    CALLS.append(("shutdown", process))


@hookimpl
def kimia_register_commands(cli: Any, services: Callable[[], Services]) -> None:
    @cli.command("recording-hello")
    def hello() -> None:
        """Say hello with the service's clock."""
        click.echo(f"hello {services().now() > 0}")


@hookimpl
def kimia_register_dialects() -> list[DialectSpec]:
    return []
