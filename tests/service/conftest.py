"""Fixtures of the service tests.

- ``clock``: a :class:`FakeClock` every service made here runs on (move time with ``clock.advance``).
- ``make_service(url, **kwargs)``: ``open_service`` (tests/conftest.py) with the test's clock.
- ``service``: the ``settings`` fixture assembled on the test's clock (so the test runs on SQLite
  and on PostgreSQL).
- ``club(**kwargs)``: a realistic club (see :func:`builders.build_club`) on ``service`` or on
  ``on=`` another service; ``world`` is ``club()``.
- autouse ``_checked_services``: every ``Kimia`` created during a test (by these fixtures or
  directly) that is still open when the test ends is checked (``service.check()`` must be ok;
  the summary is the failure message) and then closed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kimia.app import assemble
from kimia.service import Kimia
from kimia.settings import Settings

from .builders import FakeClock, World, build_club


class ServiceRegistry:
    """Every ``Kimia`` constructed while a test runs."""

    def __init__(self) -> None:
        self.services: list[Kimia] = []

    def add(self, service: Kimia) -> None:
        self.services.append(service)


@pytest.fixture(autouse=True)
def _checked_services(request: pytest.FixtureRequest) -> Iterator[ServiceRegistry]:
    # Set the database fixtures up first, so they are torn down (the PostgreSQL database dropped)
    # only after the services were checked and closed here.
    for name in ("db_url", "pg_url", "sqlite_url"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
    registry = ServiceRegistry()
    original_init = Kimia.__init__

    def recording_init(self: Kimia, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        registry.add(self)

    Kimia.__init__ = recording_init  # type: ignore[method-assign]
    try:
        yield registry
    finally:
        Kimia.__init__ = original_init  # type: ignore[method-assign]
    failures: list[str] = []
    try:
        for service in registry.services:
            if service.writer._closed:
                continue
            report = service.check()
            if not report.ok:
                failures.append(f"{service.url}: {report.summary()}")
    finally:
        for service in registry.services:
            service.close()
    assert not failures, "kimia check failed after the test:\n" + "\n".join(failures)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_service(clock: FakeClock, open_service: Callable[..., Kimia]) -> Callable[..., Kimia]:
    """``make_service(url, **kwargs)``: a service on ``url`` running on the test's clock."""

    def make(url: str, **kwargs: Any) -> Kimia:
        kwargs.setdefault("clock", clock)
        return open_service(url, **kwargs)

    return make


@pytest.fixture
def service(settings: Settings, clock: FakeClock) -> Kimia:
    return assemble(settings, clock=clock)


@pytest.fixture
def club(service: Kimia, clock: FakeClock) -> Callable[..., World]:
    """``club(on=None, publish=True, n=1, name_fa=...)``: build a realistic club."""

    def make(*, on: Kimia | None = None, **kwargs: Any) -> World:
        return build_club(on or service, clock, **kwargs)

    return make


@pytest.fixture
def world(club: Callable[..., World]) -> World:
    return club()
