"""A plugin that cannot start (``KIMIA_PLUGINS=plugins.recording_plugin plugins.failing_plugin``)."""

from __future__ import annotations

from kimia.plugins import hookimpl
from kimia.plugins.types import Services


@hookimpl
def kimia_startup(services: Services, process: str) -> None:
    raise RuntimeError("the gateway is unreachable")
