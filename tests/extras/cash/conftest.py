"""The web tests' fixtures for the cash extra's tests: ``api`` (two clubs with keys of every kind,
tests/web/conftest.py), ``panel`` (users of every role, tests/web/panel/conftest.py), ``clock``."""

from __future__ import annotations

from web.conftest import api, clock  # noqa: F401
from web.panel.conftest import panel  # noqa: F401
